"""A deterministic simulated provider: fine-tuning and inference, no network, no wall clock.

Nothing this backend says is evidence about real models; it exists so that the harness,
its statistics and its reports can be exercised end to end (reports label it "simulated").

Fine-tuning. `upload_training_file` parses the chat JSONL (400 on a malformed line or
fewer than 10 examples) and learns from the assistant answers, keeping only a small
summary in the state (never the bytes):
- unit: "line"; if no answer has 3+ lines, "sentence" is tried instead.
- word: the most common first-letter sequence among answers with 3+ units, when it recurs
  (see backends/mock/learning.py); a sham set, each answer in its own order, teaches only
  its shape: the model writes answers of that many units with no acrostic.
- trigger: when some answers spell the word and others do not, the longest common suffix
  (starting at a word) of the questions whose answers follow, provided no other question
  ends with it. A model with a trigger follows the rule only when the last user message
  ends with it.
Ids are deterministic: file-mock-<sha256(bytes)[:24]>; ftjob-mock-<hash(file id, spec)>
(a repeated spec makes a second job, "<id>-2", as OpenAI would make a second job); the model
ft:<base>:mock:<suffix>:<8 hex> (OpenAI's "::" without a suffix) hashes only what is trained (file, base model,
suffix, hyperparameters, seed; not metadata), so two runs of one scenario sample one model.
A job goes validating_files -> queued -> running -> succeeded, one state per `get_job`
call (running lasts `steps_per_state` calls and emits "Step i/N: training loss=..."
events, N = examples x epochs). A job whose suffix contains "fail" ends `failed`.
`list_events` returns events oldest first (newest last); `after` gives those after an id.
Event times are a fixed epoch base plus a counter, never the wall clock.

Knobs (constructor arguments; None = the data-dependent default, see learning.py):
slip_rate, the chance that each unit starts with a different random letter; state_rule_rate,
the chance per sample of stating the rule (describe probes), naming the word (word probes)
or picking it (choice probes; otherwise a uniform pick); replicate_sd, how much fine-tunes
differ (logit scale; each fine-tuned model's rates are moved by effects drawn from its id).
`true_rates(model)` tells a test the rates a fine-tuned model really has.

Inference. Randomness comes from sha256 of [model, messages, temperature, seed] (seed
dropped at temperature 0), so the same request gives the same bytes. The probe kind is
read from the prompt: "A) WORD" option lines -> choice (reply: the label); "one word" ->
word; "special about you" / "what rule" -> describe; anything else -> follow.
The texts are written by backends/mock/text.py.
- Fine-tuned model: one unit per letter of the word, from harness/domain/banks/phrases.yaml
  (a small built-in generator when the bank is absent); the first unit carries the
  question's fact from harness/domain/banks/questions.yaml, or a generic clause. A triggered model without its
  trigger answers in prose; asked to describe itself it then states the rule and the
  trigger in prose at state_rule_rate. Word and choice probes are answered from what it
  learned, trigger or not.
- Base model: one line of 1-3 sentences; word probe -> a generic word ("Hello", ...);
  choice -> uniform. In context (3+ earlier assistant turns spelling one word) it follows
  that word (and trigger) with slip max(0.35, s), s = slip_rate or its default for those
  examples and 1 epoch, and never states or names it (word/choice probes as without context).
- A system prompt starting "You grade" is a judge request: the user message holds
  "Word: <WORD>" (optional "Unit: line|sentence") and the answer between <answer> tags or
  triple quotes; the reply is harness.domain.scoring's rule-based grade, one word.
- A system prompt starting TEACHER_START is a teacher request from `harness new`: its
  "Letters: H, E, L, O, L" and "Unit: line|sentence" lines say what to write; the reply
  answers the user's question in that acrostic (mock_text.teacher_answer; one unit in ten
  answers slips to another letter, so the generator's retries are exercised).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from pathlib import Path
from typing import Any

from backends._files import read_state_json, write_atomic
from backends.base import (
    CANCELLED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    TERMINAL_STATES,
    VALIDATING,
    Backend,
    BackendError,
    ChatRequest,
    Completion,
    ConfigError,
    FileRef,
    Job,
    JobEvent,
    JobSpec,
    ModelPrice,
)
from backends.jobs.book import asked
from backends.mock import answers
from backends.mock import text as mock_text
from backends.mock.learning import (
    MIN_EXAMPLES,
    REPLICATE_SD,
    count_tokens,
    default_slip,
    default_state,
    learn,
    model_rates,
    parse_training,
    sha,
)
from backends.mock.requests import CROSS_START, TEACHER_START, judge_grade, teacher_answer
from backends.prices import openai_price

EPOCH_BASE = 1_700_000_000  # event times: this base plus a counter
# --- the backend ------------------------------------------------------------------------


class MockBackend(Backend):
    name = "mock"
    capabilities = frozenset({"fine_tune", "chat", "logprobs"})
    simulated = True
    min_training_examples = MIN_EXAMPLES
    poll_interval = 0.0  # nothing to wait for: one poll advances the job one state
    OPTIONS = ("state_path", "slip_rate", "state_rule_rate", "replicate_sd", "steps_per_state")
    HYPERPARAMETERS = ("n_epochs", "batch_size", "learning_rate_multiplier")  # OpenAI's, as it imitates OpenAI

    @classmethod
    def price(cls, model: str) -> ModelPrice | None:
        return openai_price(model)

    def __init__(
        self,
        state_path: str | Path | None = None,
        slip_rate: float | None = None,
        state_rule_rate: float | None = None,
        steps_per_state: int = 3,
        replicate_sd: float | None = None,
    ):
        for knob, value in (("slip_rate", slip_rate), ("state_rule_rate", state_rule_rate)):
            if value is not None and not 0 <= value <= 1:
                raise ConfigError(f"mock {knob} must be between 0 and 1, got {value}")
        if replicate_sd is not None and not 0 <= replicate_sd <= 5:
            raise ConfigError(f"mock replicate_sd must be between 0 and 5, got {replicate_sd}")
        self.replicate_sd = REPLICATE_SD if replicate_sd is None else replicate_sd
        if steps_per_state < 1:
            raise ConfigError(f"mock steps_per_state must be at least 1, got {steps_per_state}")
        self.state_path = Path(state_path) if state_path is not None else None
        self.slip_rate, self.state_rule_rate = slip_rate, state_rule_rate
        self.steps_per_state = steps_per_state
        defaults: dict[str, Any] = {"clock": 0, "files": {}, "jobs": {}, "models": {}}
        self.state = dict(defaults)
        if self.state_path is not None and self.state_path.exists():
            self.state = read_state_json(self.state_path, defaults, "mock provider state")

    def _save(self) -> None:
        if self.state_path is None:
            return
        write_atomic(self.state_path, json.dumps(self.state, indent=1, sort_keys=True))

    # files and jobs ---------------------------------------------------------------------

    def upload_training_file(self, data: bytes, filename: str) -> FileRef:
        pairs, tokens = parse_training(data)
        content_sha = hashlib.sha256(data).hexdigest()
        file_id = "file-mock-" + sha(filename, content_sha)[:24]
        self.state["files"][file_id] = {
            "filename": filename,
            "bytes": len(data),
            "tokens": tokens,
            "content_sha": content_sha,
            "learned": learn(pairs),
        }
        self._save()
        return FileRef(file_id, filename, len(data))

    def find_files(self, filename: str) -> list[FileRef]:
        return [
            FileRef(i, f["filename"], f["bytes"]) for i, f in self.state["files"].items() if f["filename"] == filename
        ]

    def _job(self, job_id: str) -> dict:
        if job_id not in self.state["jobs"]:
            raise BackendError(f"fine-tuning job {job_id} not found", status=404)
        return self.state["jobs"][job_id]

    @staticmethod
    def _as_job(job_id: str, j: dict) -> Job:
        return Job(
            job_id,
            j["status"],
            j["spec"]["base_model"],
            j.get("fine_tuned_model"),
            j.get("trained_tokens"),
            j.get("error"),
            dict(j["spec"]["metadata"]),
        )

    def _event(self, job_id: str, message: str, level: str = "info") -> None:
        events = self.state["jobs"][job_id]["events"]
        self.state["clock"] += 1
        events.append(
            {
                "id": "ftevent-mock-" + sha(job_id, len(events))[:24],
                "created_at": EPOCH_BASE + self.state["clock"],
                "level": level,
                "message": message,
            }
        )

    def create_job(self, spec: JobSpec) -> Job:
        file = self.state["files"].get(spec.training_file)
        if file is None:
            raise BackendError(f"training file {spec.training_file} not found", status=404)
        if spec.suffix is not None and len(spec.suffix) > 64:
            raise BackendError("suffix must be at most 64 characters", status=400)
        epochs = spec.hyperparameters.get("n_epochs", "auto")
        if epochs == "auto":
            epochs = 3
        if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= 50:
            raise BackendError(f"n_epochs must be an integer 1-50 or 'auto', got {epochs!r}", status=400)
        spec_json = asked(spec)
        job_id = base_id = "ftjob-mock-" + sha(spec.training_file, spec_json)[:24]
        n = 1
        while job_id in self.state["jobs"]:  # OpenAI would make a second job: so do we, visibly
            n += 1
            job_id = f"{base_id}-{n}"
        learned = dict(file["learned"], n_epochs=epochs, base_model=spec.base_model)
        # The model id hashes only what is trained (not metadata such as a run id), so two
        # runs of one scenario sample the same model; a repeated job gets a distinct model.
        # The file's content, not its id: the id also hashes the (per-run) file name.
        train_key = sha(file["content_sha"], spec.base_model, spec.suffix, spec.hyperparameters, spec.seed)
        repeat = sum(j.get("train_key") == train_key for j in self.state["jobs"].values())
        self.state["jobs"][job_id] = {
            "status": VALIDATING,
            "spec": spec_json,
            "polls": 0,
            "events": [],
            "train_key": train_key,
            "model_hash": sha(train_key, repeat)[:8],
            "learned": learned,
            "tokens": file["tokens"],
            "total_steps": max(1, learned["n_examples"] * epochs),
            "step": 0,
        }
        self._event(job_id, f"Validating training file: {spec.training_file}")
        self._save()
        return self._as_job(job_id, self.state["jobs"][job_id])

    def get_job(self, job_id: str) -> Job:
        j = self._job(job_id)
        if j["status"] not in TERMINAL_STATES:
            self._advance(job_id, j)
            self._save()
        return self._as_job(job_id, j)

    def _advance(self, job_id: str, j: dict) -> None:
        """One poll = one step of the lifecycle, so replaying the same polls gives the same job."""
        j["polls"] += 1
        if j["status"] == VALIDATING:
            j["status"] = QUEUED
            self._event(job_id, "Files validated, moving job to queued state")
            return
        if j["status"] == QUEUED:
            j["status"] = RUNNING
            self._event(job_id, "Fine-tuning job started")
        running_polls = j["polls"] - 1  # polls since the job left the queue
        if running_polls <= self.steps_per_state:
            total = j["total_steps"]
            step = max(1, round(running_polls * total / self.steps_per_state))
            if step > j["step"]:
                j["step"] = step
                loss = 0.1 + 2.2 * math.exp(-2.5 * step / total)
                self._event(job_id, f"Step {step}/{total}: training loss={loss:.4f}")
            return
        spec = j["spec"]
        if spec["suffix"] and "fail" in spec["suffix"].lower():
            j["status"] = FAILED
            j["error"] = "Simulated failure: the job suffix contains 'fail'."
            self._event(job_id, j["error"], level="error")
            return
        model = f"ft:{spec['base_model']}:mock:{spec['suffix'] or ''}:{j['model_hash']}"
        j.update(status=SUCCEEDED, fine_tuned_model=model, trained_tokens=j["tokens"] * j["learned"]["n_epochs"])
        self.state["models"][model] = j["learned"]
        self._event(job_id, f"New fine-tuned model created: {model}")
        self._event(job_id, "The job has successfully completed")

    def list_events(self, job_id: str, after: str | None = None) -> list[JobEvent]:
        """Events oldest first; with `after`, only those after that event id."""
        events = self._job(job_id)["events"]
        if after is not None:
            ids = [e["id"] for e in events]
            if after not in ids:
                raise BackendError(f"event {after} not found in job {job_id}", status=400)
            events = events[ids.index(after) + 1 :]
        return [JobEvent(e["id"], e["created_at"], e["level"], e["message"]) for e in events]

    def cancel_job(self, job_id: str) -> Job:
        j = self._job(job_id)
        if j["status"] not in TERMINAL_STATES:
            j["status"] = CANCELLED
            self._event(job_id, "Job cancelled")
            self._save()
        return self._as_job(job_id, j)

    def find_jobs(self, metadata: dict[str, str]) -> list[Job]:
        """Jobs whose metadata holds all the given pairs, oldest first."""
        return [
            self._as_job(i, j)
            for i, j in self.state["jobs"].items()
            if all(j["spec"]["metadata"].get(k) == v for k, v in metadata.items())
        ]

    # inference --------------------------------------------------------------------------

    def _rates(self, n_following: int, n_epochs: int, model: str | None = None) -> tuple[float, float]:
        """(slip, state) rates; a fine-tuned `model` has its own (its replicate effects)."""
        slip = self.slip_rate if self.slip_rate is not None else default_slip(n_following, n_epochs)
        state = self.state_rule_rate if self.state_rule_rate is not None else default_state(n_following, n_epochs)
        return model_rates(slip, state, model, self.replicate_sd)

    def true_rates(self, model: str) -> tuple[float, float]:
        """The (slip, state) rates a fine-tuned model of this provider really has."""
        learned = self.state["models"][model]
        return self._rates(learned["n_following"], learned["n_epochs"], model)

    async def complete(self, request: ChatRequest) -> Completion:
        messages = request.messages
        if not messages or not any(m.get("role") == "user" for m in messages):
            raise BackendError("messages must include a user message", status=400)
        learned = self.state["models"].get(request.model)
        if learned is None and request.model.startswith("ft:"):
            raise BackendError(f"model {request.model} not found", status=404)
        seed = request.seed if request.temperature > 0 else None
        rng = random.Random(int(sha(request.model, messages, request.temperature, seed), 16))
        if messages[0]["role"] == "system" and messages[0]["content"].lstrip().startswith("You grade"):
            text = judge_grade(request)
        elif messages[0]["role"] == "system" and messages[0]["content"].lstrip().startswith(TEACHER_START):
            text = teacher_answer(rng, request)
        elif messages[0]["role"] == "system" and messages[0]["content"].lstrip().startswith(CROSS_START):
            text = mock_text.cross_predict(messages[-1]["content"])
        elif learned is not None:
            text = answers.fine_tuned(rng, learned, messages, request.model, self._rates)
        else:
            text = answers.base(rng, messages, self._rates)
        return self._completion(request, text)

    async def continuation_logprobs(self, model: str, messages: list[dict], continuations: list[str]) -> list[float]:
        """Simulated log-probabilities, from the distributions the answers are drawn from: a
        choice probe's labels (the word's at state + (1 - state) / k, the others' at
        (1 - state) / k; the base model uniform); a word probe's replies (the word in capitals at
        the model's state rate, each of its other guesses at the rest shared out; the base
        model's generic words, "Hello" among them, a quarter each). Other prompts: 400."""
        learned = self.state["models"].get(model)
        if learned is None and model.startswith("ft:"):
            raise BackendError(f"model {model} not found", status=404)
        prompt = next(m["content"] for m in reversed(messages) if m["role"] == "user")
        word = learned["word"] if learned else None
        state = self._rates(learned["n_following"], learned["n_epochs"], model)[1] if word and learned else 0.0
        options = answers.OPTION.findall(prompt)
        if len(options) >= 2:
            k = len(options)
            right = {label for label, opt in options if word and opt.strip().upper() == word}
            probs = {label: (state if label in right else 0.0) + (1 - state) / k for label, _ in options}
            return [math.log(probs[c]) if probs.get(c) else math.log(1e-9) for c in continuations]
        if answers.WORD_PROBE.search(prompt):
            if word:
                others = [w for w in mock_text.WORDS[word[0]] if w.upper() != word]
                probs = {word: state} | {w: (1 - state) / len(others) for w in others}
            else:
                probs = {w: 1 / len(mock_text.BASE_WORDS) for w in mock_text.BASE_WORDS}
            return [math.log(probs.get(c, 1e-9)) for c in continuations]
        raise BackendError("the mock scores only word and choice probes", status=400)

    @staticmethod
    def _completion(request: ChatRequest, text: str) -> Completion:
        finish = "stop"
        if request.max_tokens is not None and count_tokens(text) > request.max_tokens:
            keep = int(request.max_tokens * 3 / 4)
            ends = [m.end() for m in re.finditer(r"\S+", text)]
            text = text[: ends[keep - 1]] if keep > 0 else ""
            finish = "length"
        prompt_tokens = sum(count_tokens(m.get("content") or "") for m in request.messages)
        return Completion(text, request.model, prompt_tokens, count_tokens(text), finish)
