"""The knowledge base (/kb, the message menu, /ask) through the real bot in simcord, against the
fake OpenAI server whose embeddings are hashed bags of words (similar texts, similar vectors).

Each test asserts what members see and what was stored or sent to the API.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import discord
import pytest

from bot.app import OpenAIBot
from cogs.knowledge import FEATURE as KB
from cogs.knowledge.embedder import EmbeddingLimits
from tests.cogs.conftest import assert_errors
from tests.cogs.simcord_hooks import without_settling
from tests.fakes.faults import Fault

RULES = (
    "# Server rules\n\n"
    "Be kind to other members. No spam in any channel.\n\n"
    "## Voice channels\n\n"
    "Voice channels close at midnight. Music bots are allowed in the lounge only.\n\n"
    "## Moderation appeals\n\n"
    "Appeals go to the moderators by direct message within seven days."
)
RECIPES = "Pancakes need flour, eggs, milk and butter. Whisk the batter and fry in a hot pan."


class World:
    def __init__(self, env: Any, fake: Any) -> None:
        self.env = env
        self.fake = fake
        self.guild = env.create_guild()
        self.channel = self.guild.create_text_channel("general")
        self.admins = self.guild.create_role("admins", permissions=discord.Permissions(manage_guild=True))
        self.admin = self.guild.add_member(env.create_user("admin"), roles=[self.admins])
        self.member = self.guild.add_member(env.create_user("member"))

    @property
    def bot(self) -> OpenAIBot:
        bot: OpenAIBot = self.env.bot
        return bot

    @property
    def cog(self) -> Any:
        return self.bot.get_cog("Knowledge")

    def embedding_requests(self) -> list[Any]:
        return self.fake.requests_to("/v1/embeddings", "POST")

    async def add(self, member: Any = None, **options: Any) -> str:
        result = await (member or self.admin).slash(self.channel, "kb add", **options)
        assert result.acknowledged
        return str(result.response.content)

    async def reply(self, member: Any, name: str, channel: Any = None, **options: Any) -> str:
        result = await member.slash(channel or self.channel, name, **options)
        return str(result.response.content)

    async def documents(self, guild_id: int | None = None) -> list[Any]:
        return list(await self.cog.repo.documents(guild_id or self.guild.id))


@pytest.fixture
async def world(simcord_env: Any, fake_openai_threaded: Any) -> World:
    return World(simcord_env, fake_openai_threaded)


async def test_adding_text_stores_its_passages_and_search_finds_the_matching_one(world: World) -> None:
    added = await world.add(text=RULES, title="Rules")
    await world.add(text=RECIPES, title="Recipes")
    (rules, recipes) = await world.documents()
    assert added == f"✅ Added **Rules** (`#{rules.id}`): {rules.chunks} passages."
    assert rules.chunks == 3 and recipes.chunks == 1
    assert (rules.model, rules.dimensions) == ("text-embedding-3-small", 512)
    # Each passage was embedded at the server's dimensions, in one batched request per document.
    requests = world.embedding_requests()
    assert [len(r.json["input"]) for r in requests] == [3, 1]
    assert all(r.json["dimensions"] == 512 for r in requests)
    # Headings stay with their paragraphs.
    voice = requests[0].json["input"][1]
    assert voice.startswith("# Server rules\n## Voice channels\n\nVoice channels close")

    shown = await world.reply(world.member, "kb search", query="when do voice channels close")
    lines = shown.splitlines()
    assert lines[0] == "🔎 Best passages for “when do voice channels close”:"
    assert lines[1].startswith("[1] **Rules** · ")
    assert lines[2].startswith("> # Server rules ## Voice channels Voice channels close at midnight.")
    # The recipe is ranked below every rules passage that shares words with the query.
    assert "**Recipes**" in shown
    # Usage of the query's embedding is recorded under the feature.
    totals = await world.bot.ledger.totals(world.guild.id)
    assert totals.by_feature["knowledge"].count == 3


async def test_ask_cites_the_right_source_and_refuses_to_invent(world: World) -> None:
    await world.add(text=RULES, title="Rules")
    await world.add(text=RECIPES, title="Recipes")
    answer = await world.reply(world.member, "ask", question="When do the voice channels close?")
    chat = world.fake.requests_to("/v1/chat/completions", "POST")
    assert len(chat) == 1
    prompt = chat[0].json["messages"][1]["content"]
    assert "[1] Rules\n# Server rules\n## Voice channels\n\nVoice channels close at midnight." in prompt
    assert "Pancakes" not in prompt  # below the similarity floor
    text, sources = answer.split("\n\n**Sources**\n")
    assert text == world.fake.chat_text_for(chat[0].json["messages"], 1024).strip()
    assert sources.splitlines()[0].startswith("[1] **Rules** · ")
    assert all("Recipes" not in line for line in sources.splitlines())

    unrelated = await world.reply(world.member, "ask", question="Which planet has the most moons?")
    assert unrelated == "🤷 I found nothing about this in the server's knowledge base, so I won't guess."
    assert len(world.fake.requests_to("/v1/chat/completions", "POST")) == 1
    totals = await world.bot.ledger.totals(world.guild.id)
    assert totals.by_feature["knowledge"].output_tokens > 0  # the answer's usage is recorded too


async def test_a_file_is_added_and_bad_files_are_refused_clearly(world: World) -> None:
    added = await world.add(file=("faq.md", RULES.encode()))
    (document,) = await world.documents()
    assert added.startswith("✅ Added **faq.md**")
    assert document.kind == "file" and document.chunks == 3

    refused = await world.admin.slash(world.channel, "kb add", file=("photo.png", b"\x89PNG"))
    assert refused.response.content == "`photo.png` is not a supported file: use .txt, .md or .pdf."
    await world.bot.feature_settings.update(world.guild.id, KB, max_file_kb=1)
    refused = await world.admin.slash(world.channel, "kb add", file=("big.txt", b"word " * 400))
    assert refused.response.content == "`big.txt` is too big: this server allows files up to 1 KB."
    assert_errors(world.env, "KnowledgeError", "KnowledgeError")
    assert len(await world.documents()) == 1


async def test_only_editors_add_and_a_chosen_role_may(world: World) -> None:
    result = await world.member.slash(world.channel, "kb add", text=RULES)
    assert result.response.content.startswith("Only members with Manage Server")
    assert_errors(world.env, "KnowledgeError")
    editors = world.guild.create_role("editors")
    writer = world.guild.add_member(world.env.create_user("writer"), roles=[editors])
    await world.bot.feature_settings.update(world.guild.id, KB, editor_role_ids=(editors.id,))
    assert (await world.add(writer, text=RULES)).startswith("✅ Added")


async def test_a_message_added_from_a_private_channel_is_used_only_for_those_who_see_it(
    world: World,
) -> None:
    staff = world.guild.create_text_channel(
        "staff",
        overwrites={
            world.guild.default_role: discord.PermissionOverwrite(view_channel=False),
            world.admins: discord.PermissionOverwrite(view_channel=True),
        },
    )
    message = await world.admin.send(staff, "The secret moderator password is swordfish tango")
    result = await world.admin.context_menu(staff, "Add to knowledge base", message)
    (document,) = await world.documents()
    assert result.response.content.startswith("✅ Added **The secret moderator password")
    assert document.kind == "message" and document.channel_id == staff.id
    assert document.source_url == message.jump_url

    question = "what is the secret moderator password"
    admin_sees = await world.reply(world.admin, "kb search", query=question)
    assert f"(<{message.jump_url}>)" in admin_sees
    member_sees = await world.reply(world.member, "kb search", query=question)
    assert member_sees == "Nothing in the knowledge base matches."
    asked = await world.reply(world.member, "ask", question=question)
    assert asked.startswith("🤷")
    assert world.fake.requests_to("/v1/chat/completions", "POST") == []


async def test_removing_a_document_removes_it_from_search_and_another_server_never_sees_it(
    world: World,
) -> None:
    await world.add(text=RULES, title="Rules")
    other = world.env.create_guild()
    other_channel = other.create_text_channel("general")
    stranger = other.add_member(world.env.create_user("stranger"))
    assert await world.reply(stranger, "kb search", other_channel, query="voice channels close") == (
        "Nothing in the knowledge base matches."
    )
    assert await world.reply(stranger, "ask", other_channel, question="When do voice channels close?") == (
        "🤷 I found nothing about this in the server's knowledge base, so I won't guess."
    )

    (document,) = await world.documents()
    removed = await world.reply(world.admin, "kb remove", document=document.id)
    assert removed == f"🗑️ Removed **Rules** (`#{document.id}`) and its 3 passages."
    assert await world.documents() == []
    rows = await world.bot.db.fetchall("SELECT COUNT(*) FROM kb_chunks")
    assert rows[0][0] == 0
    assert await world.reply(world.member, "kb search", query="voice channels close") == (
        "Nothing in the knowledge base matches."
    )
    listed = await world.reply(world.admin, "kb list")
    assert listed == "The knowledge base is empty. Add documents with /kb add."


async def test_long_documents_are_batched_within_the_limits_and_a_failure_stores_nothing(
    world: World,
) -> None:
    # Small request limits (as if the API allowed less) make a document need several requests.
    world.cog.embedder.limits = EmbeddingLimits(max_inputs=4, max_request_tokens=100_000)
    world.cog.embedder.concurrency = 1
    long_doc = "\n\n".join(f"## Topic {i}\n\nParagraph number {i} about topic {i}." for i in range(10))
    world.fake.add_fault(Fault(path="/v1/embeddings", times=1))  # the first request passes
    world.fake.add_fault(Fault(path="/v1/embeddings", status=500, times=1))
    failed = await world.add(text=long_doc, title="Topics")
    assert failed.startswith("⚠️ **Topics** was not added (nothing of it was stored)")
    assert await world.documents() == []
    rows = await world.bot.db.fetchall("SELECT COUNT(*) FROM kb_chunks")
    assert rows[0][0] == 0
    # The request that succeeded still cost something, and is recorded.
    totals = await world.bot.ledger.totals(world.guild.id)
    assert totals.by_feature["knowledge"].input_tokens > 0

    added = await world.add(text=long_doc, title="Topics")
    assert added.startswith("✅ Added **Topics**") and added.endswith(": 10 passages.")
    sizes = [len(r.json["input"]) for r in world.embedding_requests()]
    assert sizes[-3:] == [4, 4, 2]


async def test_limits_per_server_are_enforced_with_clear_messages(world: World) -> None:
    await world.bot.feature_settings.update(world.guild.id, KB, max_documents=1)
    await world.add(text=RECIPES, title="Recipes")
    refused = await world.add(text=RULES, title="Rules")
    assert refused == "The knowledge base is full: this server allows 1 documents. Remove some first."
    await world.bot.feature_settings.update(world.guild.id, KB, max_documents=5, max_chunks=2)
    refused = await world.add(text=RULES, title="Rules")
    assert refused == "This would make 3 more passages, but the server allows 2 and has 1."
    assert [d.title for d in await world.documents()] == ["Recipes"]


async def test_replies_in_zh_cn(world: World, user_locale: Any) -> None:
    user_locale("zh-CN")
    added = await world.add(text=RULES, title="规则")
    assert added.startswith("✅ 已添加 **规则**")
    assert await world.reply(world.member, "ask", question="Which planet has the most moons?") == (
        "🤷 服务器知识库中没有找到相关内容，我不会凭空猜测。"
    )


async def test_add_without_text_or_file_says_which_to_give(world: World) -> None:
    result = await world.admin.slash(world.channel, "kb add")
    assert result.ephemeral and result.response.content == "Give either a text or a file (one of the two)."
    assert await world.documents() == []


def tiny_pdf(lines: list[str]) -> bytes:
    """A one-page PDF whose page draws `lines` of text (Helvetica), written by hand."""
    ops = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({line}) Tj T*" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        " /Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(ops)} >>\nstream\n{ops}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


async def test_a_pdf_is_read_through_pypdf_and_a_broken_one_is_refused(world: World) -> None:
    pdf = tiny_pdf(["Parking rules for the office.", "Visitors park in the east lot."])
    added = await world.add(file=("handbook.pdf", pdf))
    assert added.startswith("✅ Added **handbook.pdf**")
    (request,) = world.embedding_requests()
    assert "Visitors park in the east lot." in request.json["input"][0]
    shown = await world.reply(world.member, "kb search", query="where do visitors park")
    assert shown.splitlines()[1].startswith("[1] **handbook.pdf** · ")

    broken = await world.add(file=("broken.pdf", b"%PDF-1.4\nnot really a pdf"))
    assert (
        broken == "`broken.pdf` could not be read (a damaged or password-protected PDF?). Nothing was added."
    )
    assert len(await world.documents()) == 1


async def test_a_model_change_is_reindexed_and_search_uses_the_old_index_until_then(world: World) -> None:
    await world.add(text=RULES, title="Rules")
    await world.add(text=RECIPES, title="Recipes")
    await world.bot.feature_settings.update(
        world.guild.id, KB, model="text-embedding-3-large", dimensions=256
    )
    # Before the re-index: the query is embedded with the model the documents were indexed with.
    shown = await world.reply(world.member, "kb search", query="when do voice channels close")
    assert shown.splitlines()[1].startswith("[1] **Rules**")
    assert world.embedding_requests()[-1].json["model"] == "text-embedding-3-small"

    # A failure half-way leaves the old index whole and no new vectors behind (two inputs a request
    # make the re-index of both documents' four passages two requests).
    world.cog.embedder.concurrency = 1
    world.cog.embedder.limits = EmbeddingLimits(max_inputs=2)
    world.fake.add_fault(Fault(path="/v1/embeddings", times=1))
    world.fake.add_fault(Fault(path="/v1/embeddings", status=500, times=1))
    failed = await world.reply(world.admin, "kb reindex")
    assert failed.startswith("⚠️ The re-index stopped and search keeps using the previous index")
    rows = await world.bot.db.fetchall("SELECT model, dimensions, COUNT(*) FROM kb_chunks GROUP BY 1, 2")
    assert [tuple(r) for r in rows] == [("text-embedding-3-small", 512, 4)]

    done = await world.reply(world.admin, "kb reindex")
    assert done == "✅ Re-indexed 2 documents with `text-embedding-3-large`; search now uses it."
    # Both documents' passages were embedded together, not one request per document.
    assert [len(r.json["input"]) for r in world.embedding_requests()[-2:]] == [2, 2]
    rows = await world.bot.db.fetchall("SELECT model, dimensions, COUNT(*) FROM kb_chunks GROUP BY 1, 2")
    assert [tuple(r) for r in rows] == [("text-embedding-3-large", 256, 4)]
    assert {(d.model, d.dimensions) for d in await world.documents()} == {("text-embedding-3-large", 256)}
    shown = await world.reply(world.member, "kb search", query="when do voice channels close")
    assert shown.splitlines()[1].startswith("[1] **Rules**")
    assert world.embedding_requests()[-1].json == {
        "input": ["when do voice channels close"],
        "model": "text-embedding-3-large",
        "dimensions": 256,
        "encoding_format": "base64",
    }
    assert await world.reply(world.admin, "kb reindex") == (
        "Every document is already indexed with `text-embedding-3-large`."
    )


async def test_cancel_stops_the_ingestion_and_stores_nothing(world: World) -> None:
    world.fake.add_fault(Fault(path="/v1/embeddings", delay=3.0, times=1))
    # Start /kb add without waiting for the bot to finish (simcord's verbs wait until it is idle).
    async with without_settling(world.env, pause=0.01):
        started = await world.admin.slash(world.channel, "kb add", text=RULES, title="Rules")
    deadline = time.monotonic() + 10
    while not (started.response and started.response.components):
        assert time.monotonic() < deadline, "no progress bar with a Cancel button appeared"
        await asyncio.sleep(0.02)
    assert started.response.content == "📚 Adding **Rules**: ▱▱▱▱▱▱▱▱▱▱▱▱ 0% · 0/3 passages"

    await world.admin.click(started.response.message, label="Cancel")
    while started.response.content.startswith("📚"):
        assert time.monotonic() < deadline, "the ingestion was not cancelled"
        await asyncio.sleep(0.02)
    assert started.response.content == "⏹️ Cancelled: nothing of **Rules** was added."
    assert await world.documents() == []


async def _until(check: Any, what: str, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


async def test_config_changing_the_model_reindexes_in_the_background_and_search_keeps_the_old_index(
    world: World,
) -> None:
    await world.add(text=RULES, title="Rules")
    await world.add(text=RECIPES, title="Recipes")
    indexed = len(world.embedding_requests())
    # The re-index's first request is slow, so search can be tried while it runs.
    world.fake.add_fault(Fault(path="/v1/embeddings", delay=3.0, times=1))
    async with without_settling(world.env):
        changed = await world.admin.slash(
            world.channel, "config set", feature="knowledge", setting="model", value="text-embedding-3-large"
        )
        await _until(lambda: changed.response and changed.followups, "no re-index shown after /config")
        assert changed.response.content.startswith("Saved: ")
        (progress,) = changed.followups
        assert progress.ephemeral
        assert progress.content == (
            "🔄 Re-indexing with `text-embedding-3-large`: ▱▱▱▱▱▱▱▱▱▱▱▱ 0% · 0/4 passages."
            " Search uses the previous index until it is done."
        )
        listed = await world.admin.slash(world.channel, "kb list")
        await _until(lambda: listed.response, "/kb list did not answer")
        assert listed.response.content.startswith("🔄 Re-indexing with `text-embedding-3-large`: ")

        searched = await world.member.slash(world.channel, "kb search", query="when do voice channels close")
        await _until(lambda: searched.response.content.startswith("🔎"), "no search result during re-index")
        assert searched.response.content.splitlines()[1].startswith("[1] **Rules**")
        requests = world.embedding_requests()[indexed:]
        assert [r.json["model"] for r in requests] == ["text-embedding-3-large", "text-embedding-3-small"]
        assert requests[0].json["input"][0].startswith("# Server rules")  # the re-index, still waiting
        rows = await world.bot.db.fetchall("SELECT model, COUNT(*) FROM kb_chunks GROUP BY 1")
        assert [tuple(r) for r in rows] == [("text-embedding-3-small", 4)]

    await _until(lambda: changed.followups[0].content.startswith("✅"), "the re-index did not finish")
    assert changed.followups[0].content == (
        "✅ Re-indexed 2 documents with `text-embedding-3-large`; search now uses it."
    )
    rows = await world.bot.db.fetchall("SELECT model, dimensions, COUNT(*) FROM kb_chunks GROUP BY 1, 2")
    assert [tuple(r) for r in rows] == [("text-embedding-3-large", 512, 4)]
    assert {d.model for d in await world.documents()} == {"text-embedding-3-large"}
    assert world.cog.reindex_runs == {}
    shown = await world.reply(world.member, "kb search", query="when do voice channels close")
    assert shown.splitlines()[1].startswith("[1] **Rules**")
    assert world.embedding_requests()[-1].json["model"] == "text-embedding-3-large"
    # Usage of the re-index is recorded for the admin who changed the model.
    totals = await world.bot.ledger.totals(world.guild.id)
    assert totals.by_feature["knowledge"].input_tokens > 0


async def test_config_reindex_can_be_cancelled_and_other_settings_start_none(world: World) -> None:
    await world.add(text=RULES, title="Rules")
    indexed = len(world.embedding_requests())
    await world.admin.slash(world.channel, "config set", feature="knowledge", setting="top_k", value="3")
    assert len(world.embedding_requests()) == indexed  # not a setting of the index

    world.fake.add_fault(Fault(path="/v1/embeddings", delay=3.0, times=1))
    async with without_settling(world.env):
        changed = await world.admin.slash(
            world.channel, "config set", feature="knowledge", setting="dimensions", value="256"
        )
        await _until(lambda: changed.followups and changed.followups[0].components, "no Cancel button")
        await world.admin.click(changed.followups[0].message, label="Cancel")
        await _until(lambda: changed.followups[0].content.startswith("⏹️"), "the re-index was not cancelled")
    assert changed.followups[0].content == "⏹️ Re-index cancelled: search keeps using the previous index."
    rows = await world.bot.db.fetchall("SELECT model, dimensions, COUNT(*) FROM kb_chunks GROUP BY 1, 2")
    assert [tuple(r) for r in rows] == [("text-embedding-3-small", 512, 3)]
    assert world.embedding_requests()[-1].json["dimensions"] == 256
    assert world.cog.reindex_runs == {}
