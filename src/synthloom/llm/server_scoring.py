"""Log-likelihood of given text under a model behind an OpenAI-compatible server.

:class:`ServerScorer` is the server counterpart of :class:`~synthloom.llm.scoring.LogLikelihoodScorer`: it sends
``context + continuation`` as one raw prompt asking for prompt log-probabilities (see
``llm/backends/prompt_logprobs.py``) through the model's usual layers (response cache, limits, retries), and
returns the log-probabilities of the continuation's tokens.

The server tokenizes the joint text, so the continuation's tokens are the trailing tokens that spell it; where the
text's tokenization at the join differs from the continuation's own (a word glued to the context), the token across
the join is counted as the continuation's. For the usual selection prompts (a prompt ending in a newline, a colon
or a space before the answer) the tokens are the same as tokenizing the two parts apart, as the in-process scorer
does, and so are the numbers (when server and in-process model run the same kernels: see docs).
"""

from __future__ import annotations

from .scoring import ContinuationScore
from .types import ModelBackend, PermanentError, Request


class ServerScorer:
    """Scores text with the recipe model ``model`` (a layered OpenAI-compatible backend) by its prompt log-probabilities."""

    def __init__(self, model: ModelBackend, name: str = "default") -> None:
        self.model = model
        self.name = name

    async def ascore(self, context: str, continuation: str) -> ContinuationScore:
        """``log p`` of each token of ``continuation`` after ``context`` (see the module docstring)."""
        if not continuation:
            return ContinuationScore([], [], 0)
        request = Request.completion(context + continuation, prompt_logprobs=True, max_tokens=1, temperature=0)
        response = await self.model.complete(request)
        tokens = response.choices[0].prompt_logprobs if response.choices else None
        if tokens is None:
            raise PermanentError(f"model {self.name!r} answered without prompt log-probabilities")
        from .backends.prompt_logprobs import continuation_logprobs

        texts, logprobs = continuation_logprobs(tokens, continuation)
        return ContinuationScore(logprobs, texts, 0)
