"""Texts the fine-tuning feature shows: a job's one-line status, its result, validation reports.
Every string comes from the feature's catalogs (en-US, zh-CN)."""

from __future__ import annotations

from bot.i18n import t
from cogs.finetune.store import JobRow
from cogs.finetune.validate import Report

STATUS_EMOJI = {
    "validating_files": "🔎",
    "queued": "⏳",
    "running": "🏋️",
    "succeeded": "✅",
    "failed": "❌",
    "cancelled": "⏹️",
}


def status_name(status: str, locale: str) -> str:
    if status in STATUS_EMOJI:
        return f"{STATUS_EMOJI[status]} " + t(f"finetune.status.{status}", locale)
    return status


def job_line(row: JobRow, locale: str) -> str:
    """The status message: the job's state, and while it trains the last milestone reached."""
    line = t(
        "finetune.job.line",
        locale,
        job=row.job_id,
        model=row.model,
        status=status_name(row.status, locale),
    )
    progress = row.progress
    if row.status == "running" and progress is not None:
        line += " · " + t(
            "finetune.job.progress",
            locale,
            percent=progress.percent,
            step=progress.step,
            total=progress.total_steps,
        )
        if progress.train_loss is not None:
            line += " · " + t("finetune.job.loss", locale, loss=f"{progress.train_loss:.3f}")
    return line


def result_text(row: JobRow, locale: str) -> str:
    if row.status == "succeeded":
        return t(
            "finetune.result.succeeded",
            locale,
            user=f"<@{row.user_id}>",
            job=row.job_id,
            model=row.fine_tuned_model or "?",
            tokens=f"{row.trained_tokens or 0:,}",
        )
    if row.status == "failed":
        return t(
            "finetune.result.failed",
            locale,
            user=f"<@{row.user_id}>",
            job=row.job_id,
            reason=row.error or t("finetune.result.no_reason", locale),
        )
    return t("finetune.result.cancelled", locale, user=f"<@{row.user_id}>", job=row.job_id)


def report_text(report: Report, filename: str, locale: str) -> str:
    """The validation report: each problem with its line number, then the advice on size."""
    lines = [t("finetune.check.header", locale, file=filename)]
    for problem in report.problems:
        text = t(problem.key, locale, **problem.params)
        if problem.line:
            text = t("finetune.check.at_line", locale, line=problem.line, problem=text)
        lines.append(f"- {text}")
    if report.more_problems:
        lines.append(t("finetune.check.more", locale, count=report.more_problems))
    lines.append(t("finetune.check.advice", locale))
    return "\n".join(lines)[:1990]
