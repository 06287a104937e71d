"""Verified reasoning data: methods that sample solutions and keep what a verifier accepts.

Shared machinery: :mod:`.verified_sampling` (k samples per problem, reasoning split off, each
answer checked by :mod:`synthloom.verify.math`). Methods: :mod:`.rejection_sampling` (ReST-EM,
``keep_verified``, preference pairs), :mod:`.pass_rate` (difficulty labels, band selection for RL),
:mod:`.star` (STaR with rationalization), :mod:`.long_cot` (long chain-of-thought distillation),
:mod:`.metamath` (AnsAug, rephrasing, SV, FOBAR), :mod:`.backward_synthesis` (questions from answers),
:mod:`.learning_from_mistakes` (LeMa corrections), :mod:`.math_shepherd` (per-step process labels),
:mod:`.self_correction` (wrong → critique → verified revision), :mod:`.orca_math` (suggester/editor
hardening). :mod:`.solution_steps` splits and numbers solution steps for the last three.
:mod:`.mammoth` (hybrid CoT and executed program-of-thought rationales); :mod:`.formal_proofs` and
:mod:`.formal_prover` (DeepSeek-Prover's autoformalize → filter → prove → check loop, in Coq).
"""
