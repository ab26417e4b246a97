"""The one place where a provider's data enters the harness. Every backend (built in or a
plugin, live or replayed) hands over answers, jobs, events and errors; here they are checked
before anything is stored, printed or charged:

- text that came back (answers, events, errors) has known secrets redacted, and event and
  error text is one line without control characters (no terminal escapes, no forged lines);
- an answer that is not text, or a job or event with fields of the wrong type, is a
  MalformedResponse: one failed, non-retryable record with a one-line reason, never charged;
- token counts are believed only when they are whole numbers, not negative, not absurd for
  the text (at most one token per byte plus a little per message; a completion at most
  max_tokens), and, where money is at stake, not below our own count of what was sent and
  got. Anything else is counted here (tiktoken) and the record says so (`tokens_note`).

The checks are cheap (type tests and byte lengths) except where money is at stake: a paid
call's completion is counted with tiktoken (its prompt was counted when it was reserved).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from backends.base import (
    SUCCEEDED,
    Backend,
    BackendError,
    ChatRequest,
    Completion,
    FileRef,
    Job,
    JobEvent,
    MalformedResponse,
)
from harness import redact
from harness.domain import tokens

if TYPE_CHECKING:
    from harness.calls.budget import Ledger

T = TypeVar("T")
U = TypeVar("U")

DEFAULT_MAX_TOKENS = 4096  # a request without max_tokens is reserved (and bounded) at this many
# Per message a chat template adds a few tokens (role markers); any tokenizer gives at most one
# token per byte of text. Beyond these a count is absurd for the text.
TOKENS_PER_MESSAGE_BOUND = 16
TOKENS_SLACK = 64
# Where money is at stake a reported count may be lower than ours by this much (another
# tokenizer, per-message overhead counted differently) before it is flagged; it is never
# charged below ours either way.
UNDERCOUNT_TOLERANCE = 0.25
MAX_TEXT = 100_000  # characters of provider text kept in an event or an error line

# Terminal control: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), other ESC pairs,
# then any other C0/C1 control, DEL, and the bidirectional overrides that reorder a line.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|\x9b[0-?]*[ -/]*[@-~]")
_CONTROLS_IN_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]+")
_CONTROLS_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NEEDS_CLEANING = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean_line(text: Any) -> str:
    """Provider text for a log, an event or an error: secrets redacted, terminal escapes and
    control characters removed, line breaks made spaces, at most MAX_TEXT characters."""
    text = text if isinstance(text, str) else repr(text)
    text = _CONTROLS_IN_LINE.sub(" ", _ESCAPES.sub("", text[: MAX_TEXT * 2]))
    return redact.scrub(" ".join(text.split())[:MAX_TEXT])


def clean_text(text: str) -> str:
    """An answer as the model wrote it (line breaks and tabs kept), minus terminal escapes,
    other control characters and secrets."""
    if _NEEDS_CLEANING.search(text):
        text = _CONTROLS_IN_TEXT.sub("", _ESCAPES.sub("", text))
    return redact.scrub(text)


def cleaned_error(error: BackendError) -> BackendError:
    """The same error with its message made one clean line (status and retryability kept)."""
    message = clean_line(str(error))
    if message == str(error):
        return error
    clean = copy.copy(error)
    clean.args = (message,)
    return clean


# --- token counts -------------------------------------------------------------------------


MAX_COUNT = 2**53  # beyond this no JSON number is an exact count


def whole_count(value: Any) -> int | None:
    """A token count as a non-negative int, or None when it is not one (a bool, a string,
    NaN, an infinity, a fraction, a negative number, 1e300)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_COUNT else None
    if isinstance(value, float) and math.isfinite(value) and 0 <= value <= MAX_COUNT and value.is_integer():
        return int(value)
    return None


def prompt_bound(messages: Sequence[dict]) -> int:
    """The most tokens any tokenizer can make of these messages (at most one per byte)."""
    size = sum(len(str(m.get("content") or "").encode("utf-8")) + len(str(m.get("role") or "")) for m in messages)
    return size + TOKENS_PER_MESSAGE_BOUND * len(messages) + TOKENS_SLACK


def completion_bound(request: ChatRequest, text: str) -> int:
    if request.max_tokens is not None:
        return request.max_tokens
    return max(DEFAULT_MAX_TOKENS, len(text.encode("utf-8")) + TOKENS_SLACK)


@dataclass(frozen=True)
class Usage:
    prompt: int
    completion: int
    note: str | None = None  # why the provider's count was not used as reported


def checked_usage(
    request: ChatRequest, completion: Completion, *, counted_prompt: int | None = None, exact: bool = False
) -> Usage:
    """The tokens to record and charge for one answer. `exact` (a paid call): never below our
    own count of the prompt (`counted_prompt`, counted at reservation) and of the answer."""
    notes = []
    raw_prompt, raw_completion = completion.prompt_tokens, completion.completion_tokens
    prompt, done = whole_count(raw_prompt), whole_count(raw_completion)
    if raw_prompt in (0, None) and raw_completion in (0, None):
        prompt = done = None
        notes.append("no usage reported")
    else:
        if prompt is None or prompt > prompt_bound(request.messages):
            notes.append(f"prompt_tokens {_shown(raw_prompt)} is not a plausible count for the prompt")
            prompt = None
        if done is None or done > completion_bound(request, completion.text) or (done == 0 and completion.text):
            notes.append(f"completion_tokens {_shown(raw_completion)} is not a plausible count for the answer")
            done = None
    if exact or prompt is None:
        ours = counted_prompt if counted_prompt is not None else count_prompt(request)
        if prompt is not None and prompt < ours * (1 - UNDERCOUNT_TOLERANCE) - 8:
            notes.append(f"prompt_tokens {prompt} is below our count {ours}")
        prompt = ours if prompt is None else max(prompt, ours)
    if exact or done is None:
        ours = tokens.count_text_tokens(completion.text, request.model)
        if done is not None and done < ours * (1 - UNDERCOUNT_TOLERANCE) - 8:
            notes.append(f"completion_tokens {done} is below our count {ours}")
        done = ours if done is None else max(done, ours)
    note = "; ".join(notes) + "; counted with tiktoken" if notes else None
    return Usage(prompt, done, note)


MAX_EPOCHS = 50  # the most epochs a provider runs (OpenAI's limit)


def trained_tokens(reported: Any, per_epoch: int, epochs: int, *, chosen: bool, exact: bool) -> Usage:
    """The training tokens to charge for one finished job (as `Usage.prompt`). Ours: the
    training file's tokens (counted as OpenAI counts them) times its epochs (`chosen`: the
    scenario gave n_epochs; else what "auto" comes to, which the provider may set otherwise).
    A reported count is believed when it is a whole number of at least one epoch and at most
    twice the file at its epochs (at the most epochs a provider runs, when "auto"); where money
    is at stake (`exact`) chosen epochs are never charged below ours. Negative trained_tokens
    once made a spend of $-299.99, raising the cap by $300."""
    ours = per_epoch * epochs
    count = whole_count(reported)
    ceiling = 2 * per_epoch * (epochs if chosen else MAX_EPOCHS) + TOKENS_SLACK
    floor = per_epoch * (epochs if chosen else 1) * (1 - UNDERCOUNT_TOLERANCE)
    if count is None or count > ceiling or (exact and count < floor):
        what = (
            "no trained_tokens reported" if reported is None else f"trained_tokens {_shown(reported)} is not plausible"
        )
        return Usage(ours, 0, f"{what} for a file of {per_epoch} tokens x {epochs} epochs; counted {ours}")
    return Usage(max(count, ours) if exact and chosen else count, 0)


def count_prompt(request: ChatRequest) -> int:
    return tokens.count_tokens([{"messages": request.messages}], request.model)[0]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


# --- answers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A checked answer: clean text, and the tokens recorded and charged for it."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    tokens_note: str | None = None


def checked_completion(completion: Any) -> Completion:
    """A backend's Completion with its text checked and cleaned (MalformedResponse if it is
    not a Completion or its text is not text)."""
    if not isinstance(completion, Completion):
        raise MalformedResponse(f"the provider's answer is not a completion ({type(completion).__name__})")
    text = completion.text
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise MalformedResponse(f"the provider's answer text is {type(text).__name__}, not a string")
    finish = completion.finish_reason if isinstance(completion.finish_reason, str) else "stop"
    return Completion(
        clean_text(text), str(completion.model or ""), completion.prompt_tokens, completion.completion_tokens, finish
    )


async def ask(
    backend: Backend, request: ChatRequest, ledger: Ledger | None = None, ticket: int | None = None
) -> Answer:
    """One chat call through the boundary. A BackendError comes out with a clean message,
    after the ledger was told (a malformed answer is never charged); anything else (a
    cassette miss, Ctrl-C) frees the reservation and propagates."""
    try:
        completion = checked_completion(await backend.complete(request))
    except BackendError as e:
        if ledger is not None and ticket is not None:
            ledger.failed(ticket, e)
        raise cleaned_error(e) from None
    except BaseException:
        if ledger is not None and ticket is not None:
            ledger.settle(ticket, request.model, 0, 0)
        raise
    if ledger is not None and ticket is not None:
        used = ledger.charge(ticket, request, completion)
    else:
        used = checked_usage(request, completion)
    return Answer(completion.text, completion.finish_reason, used.prompt, used.completion, used.note)


# --- files, jobs, events ----------------------------------------------------------------------


def checked(call: Callable[[], T], check: Callable[[T], U]) -> U:
    """`check(call())`, with a BackendError's message made one clean line: how a job, an
    event list or an uploaded file enters (`checked(lambda: backend.get_job(i), job)`)."""
    try:
        result = call()
    except BackendError as e:
        raise cleaned_error(e) from None
    return check(result)


def jobs(found: Any) -> list[Job]:
    if not isinstance(found, list):
        raise MalformedResponse(f"the provider's job list is not a list ({type(found).__name__})")
    return [job(j) for j in found]


def file_refs(found: Any) -> list[FileRef]:
    if not isinstance(found, list):
        raise MalformedResponse(f"the provider's file list is not a list ({type(found).__name__})")
    return [file_ref(f) for f in found]


def _text_field(obj: Any, name: str, value: Any, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        what = type(value).__name__ if value is not None else "missing"
        raise MalformedResponse(f"the provider's {obj} has no usable {name} ({what})")
    return clean_line(value)


def file_ref(ref: Any) -> FileRef:
    if not isinstance(ref, FileRef):
        raise MalformedResponse(f"the provider's uploaded file is not a file ({type(ref).__name__})")
    size = whole_count(ref.bytes)
    return FileRef(_text_field("file", "id", ref.id), clean_line(ref.filename or ""), size or 0)


def job(found: Any) -> Job:
    """A job with its ids and status checked (MalformedResponse if one is unusable) and its
    error made one clean line; trained_tokens is checked where it is charged (trained_tokens)."""
    if not isinstance(found, Job):
        raise MalformedResponse(f"the provider's job is not a job ({type(found).__name__})")
    metadata = found.metadata if isinstance(found.metadata, dict) else {}
    if found.status == SUCCEEDED and not (isinstance(found.fine_tuned_model, str) and found.fine_tuned_model.strip()):
        raise MalformedResponse("the provider's job succeeded without a fine-tuned model id")
    return dataclasses.replace(  # the backend's other fields (data_at_fault) as they were
        found,
        id=_text_field("job", "id", found.id),
        status=_text_field("job", "status", found.status),
        base_model=clean_line(found.base_model or "") if isinstance(found.base_model, str) else "",
        fine_tuned_model=_text_field("job", "fine_tuned_model", found.fine_tuned_model, optional=True),
        trained_tokens=found.trained_tokens,  # as sent: trained_tokens() checks it when it is charged
        error=clean_line(found.error) if found.error else None,
        metadata={str(k): str(v) for k, v in metadata.items()},
    )


def logprobs(found: Any, n: int) -> list[float]:
    """A backend's log-probabilities of n continuations: n finite numbers, none above 0."""
    ok = isinstance(found, list) and len(found) == n
    if not ok or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in found):
        raise MalformedResponse(f"the provider's log-probabilities are not {n} numbers ({_shown(found)})")
    if not all(math.isfinite(v) and v <= 1e-6 for v in found):
        raise MalformedResponse(f"the provider's log-probabilities are not finite and at most 0 ({_shown(found)})")
    return [float(v) for v in found]


def events(found: Any) -> list[JobEvent]:
    """A job's events with ids checked and their level and message made one clean line."""
    if not isinstance(found, list):
        raise MalformedResponse(f"the provider's job events are not a list ({type(found).__name__})")
    out = []
    for e in found:
        if not isinstance(e, JobEvent):
            raise MalformedResponse(f"the provider's job event is not an event ({type(e).__name__})")
        created = whole_count(e.created_at)
        out.append(
            JobEvent(
                id=_text_field("job event", "id", e.id),
                created_at=created if created is not None else 0,
                level=clean_line(e.level or "info")[:20] or "info",
                message=clean_line(e.message or ""),
            )
        )
    return out
