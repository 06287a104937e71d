"""Preference and feedback data: completion pools, scoring, and the pairs and labels trainers read.

Modules: :mod:`.completion_pool` (``completions``: one prompt fanned out to several models and
sampling settings, each completion tagged with its model, optional system prompts or principles
sampled per completion), :mod:`.pairs` (``pairs``: chosen/rejected rows by best-vs-random,
best-vs-worst or every pair above a margin; ``kto_labels``: unpaired desirable/undesirable rows),
:mod:`.reward` (``reward_score``: a reward model's score per completion, from a vLLM pooling or
classify endpoint or offline from a judge's expected score; ``best_of_n``; ``reward_difference``).
Shared: :mod:`.prompt_columns` (how every preference step reads a row's prompt: ``prompt``,
``prompt_messages``, ``system_column``).
"""
