"""The /chat context: trimming to the budget from the oldest, instructions first, the newest always
kept, speakers named, images only for models that take them, and the in-memory window's order."""

from __future__ import annotations

from cogs.chat.context import ContextWindow, accepts_images, build_context
from cogs.chat.conversations import StoredMessage, context_tokens


def msg(
    mid: int, text: str, role: str = "user", name: str = "alice", reply_to: int | None = None
) -> StoredMessage:
    return StoredMessage(
        mid,
        role,
        1,
        name,
        text,
        (),
        reply_to,
        None,
        context_tokens(role, name, text, 0),  # type: ignore[arg-type]
    )


def test_trims_from_the_oldest_and_keeps_instructions_first() -> None:
    history = [msg(i, "x" * 400) for i in range(1, 11)]  # about 106 tokens each
    context = build_context(history, "Be brief.", 500)
    assert context.messages[0] == {"role": "system", "content": "Be brief."}
    assert [m["content"] for m in context.messages[1:]] == [f"alice: {'x' * 400}"] * 4
    assert context.included == 4 and context.dropped == 6 and context.tokens <= 500


def test_the_newest_message_is_kept_even_over_the_budget() -> None:
    context = build_context([msg(1, "short"), msg(2, "y" * 10_000)], "", 500)
    assert context.included == 1 and context.messages == [
        {"role": "user", "content": "alice: " + "y" * 10_000}
    ]


def test_speakers_and_images() -> None:
    with_image = StoredMessage(3, "user", 1, "bob", "look", ("https://cdn/x.png",), None, None, 100)
    context = build_context([msg(1, "hi"), msg(2, "hello", "assistant", "bot", 1), with_image], "", 10_000)
    assert context.messages[0] == {"role": "user", "content": "alice: hi"}
    assert context.messages[1] == {"role": "assistant", "content": "hello"}
    assert context.messages[2] == {"role": "user", "content": "bob: look"}  # images off by default
    parts = build_context([with_image], "", 10_000, with_images=True).messages[0]["content"]
    assert parts == [
        {"type": "text", "text": "bob: look"},
        {"type": "image_url", "image_url": {"url": "https://cdn/x.png"}},
    ]
    assert accepts_images("gpt-5.4-mini") and accepts_images("gpt-4o") and not accepts_images("gpt-3.5-turbo")


def test_window_orders_answers_after_their_message_and_cuts_at_the_trigger() -> None:
    window = ContextWindow([msg(1, "first"), msg(2, "second")], budget=1000)
    window.add(msg(3, "answer to first", "assistant", "bot", reply_to=1))
    window.add(msg(4, "third"))
    window.add(msg(5, "answer to second", "assistant", "bot", reply_to=2))
    assert [m.id for m in window.up_to(2)] == [1, 3, 2]
    assert [m.id for m in window.up_to(4)] == [1, 3, 2, 5, 4]
    window.add(msg(5, "duplicate", "assistant", "bot", reply_to=2))
    assert len(window) == 5
    window.remove(5)
    assert [m.id for m in window.up_to(4)] == [1, 3, 2, 4]


def test_window_keeps_at_most_twice_its_budget() -> None:
    window = ContextWindow([], budget=200)
    for i in range(1, 50):
        window.add(msg(i, "z" * 200))
    assert sum(m.tokens for m in window.up_to(49)) < 2 * 200 + 60
    assert window.up_to(49)[-1].id == 49
