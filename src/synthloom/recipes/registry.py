"""Recipe step types: the ``type:`` of a YAML step, mapped one to one onto a Python step class.

A type's options are its class's keyword arguments (walking up the class hierarchy while a
constructor forwards ``**kwargs``; see :mod:`synthloom.pipeline.config`), so the YAML and the
Python API cannot drift apart.
"""

from __future__ import annotations

import importlib
import inspect

from ..pipeline import config

#: type name -> "module:Class" (imported on first use, so unused heavy steps cost nothing)
STEP_TYPES: dict[str, str] = {
    "load": "synthloom.steps.load:LoadStep",
    "records": "synthloom.steps.records_source:RecordsSource",
    "llm": "synthloom.pipeline.llm_step:TemplateLLMStep",
    "filter": "synthloom.steps.columns:ExpressionFilter",
    "set": "synthloom.steps.columns:SetColumns",
    "select": "synthloom.steps.columns:SelectColumns",
    "dedup_exact": "synthloom.curate.exact_dedup:ExactDedup",
    "join": "synthloom.steps.join:KeyJoin",
    "concat": "synthloom.steps.concat:Concat",
    "loop": "synthloom.steps.loop:RecipeLoop",
    "documents": "synthloom.steps.documents_in:DocumentsSource",
    "chunk": "synthloom.steps.documents_in:ChunkDocuments",
    # --- curation: dedup, rouge gate ---
    "dedup_minhash": "synthloom.curate.minhash_dedup:MinHashDedup",
    "rouge_filter": "synthloom.curate.rouge_gate:RougeFilter",
    # --- curation: embeddings, semantic dedup, decontamination ---
    "embed": "synthloom.curate.embeddings:EmbedStep",
    "dedup_semantic": "synthloom.curate.semantic_dedup:SemanticDedup",
    "decontaminate": "synthloom.curate.decontaminate:Decontaminate",
    "decontaminate_llm": "synthloom.curate.decontaminate_llm:DecontaminateLLM",
    # --- curation: heuristics, judges, selection ---
    "heuristic_filter": "synthloom.curate.heuristics.filter:HeuristicFilter",
    "judge": "synthloom.curate.judges.pointwise:Judge",
    "judge_pairwise": "synthloom.curate.judges.pairwise:PairwiseJudge",
    "judge_jury": "synthloom.curate.judges.jury:JudgeJury",
    "select_threshold": "synthloom.curate.selection.threshold:SelectThreshold",
    "select_band": "synthloom.curate.selection.threshold:SelectBand",
    "select_top": "synthloom.curate.selection.threshold:SelectTop",
    "select_deita": "synthloom.curate.selection.deita:DeitaSelect",
    "ifd": "synthloom.curate.selection.ifd:IFDScore",
    "select_topk_per_cluster": "synthloom.curate.selection.clusters:TopKPerCluster",
    # --- curation: metrics, report ---
    "report": "synthloom.report.step:ReportStep",
    # --- tabular: evaluation of a synthetic table (fidelity, utility, privacy) ---
    "evaluate_table": "synthloom.tabular.evaluate.step:EvaluateTable",
    # --- verification: sandbox, code ---
    "verify_code": "synthloom.verify.code_step:VerifyCode",
    # --- verification: math, reasoning methods ---
    "verify_math": "synthloom.verify.math_step:VerifyMath",
    "rejection_sampling": "synthloom.methods.reasoning.rejection_sampling:RejectionSampling",
    "keep_verified": "synthloom.methods.reasoning.rejection_sampling:KeepVerified",
    "pass_rate": "synthloom.methods.reasoning.pass_rate:PassRate",
    "star": "synthloom.methods.reasoning.star:Star",
    "long_cot": "synthloom.methods.reasoning.long_cot:LongCoTDistill",
    "long_cot_select": "synthloom.methods.reasoning.long_cot_select:LongCoTSelect",
    "mammoth": "synthloom.methods.reasoning.mammoth:Mammoth",
    "coq_autoformalize": "synthloom.methods.reasoning.formal_proofs:Autoformalize",
    "coq_prover": "synthloom.methods.reasoning.formal_prover:CoqProver",
    # --- verification: reasoning methods 2 ---
    "metamath": "synthloom.methods.reasoning.metamath:MetaMath",
    "backward_synthesis": "synthloom.methods.reasoning.backward_synthesis:BackwardSynthesis",
    "learning_from_mistakes": "synthloom.methods.reasoning.learning_from_mistakes:LearningFromMistakes",
    "math_shepherd": "synthloom.methods.reasoning.math_shepherd:MathShepherd",
    "self_correction": "synthloom.methods.reasoning.self_correction:SelfCorrection",
    "orca_math_harden": "synthloom.methods.reasoning.orca_math:OrcaMathHarden",
    "orca_math_ama": "synthloom.methods.reasoning.orca_math_ama:OrcaMathAskMeAnything",
    # --- methods: code ---
    "oss_instruct_seed": "synthloom.methods.code.oss_instruct:OssInstructSeed",
    "oss_instruct_windows": "synthloom.methods.code.code_corpus:SourceWindows",
    "oss_instruct": "synthloom.methods.code.oss_instruct:OssInstruct",
    "keep_passing": "synthloom.methods.code.keep_passing:KeepPassing",
    "codet": "synthloom.methods.code.codet:CodeT",
    "code_repair": "synthloom.methods.code.code_repair:CodeRepair",
    "toolcoder": "synthloom.methods.code.toolcoder:ToolCoder",
    "case2code_functions": "synthloom.methods.code.code_corpus:FunctionsWithCallSites",
    "case2code_inputs": "synthloom.methods.code.case2code:Case2CodeInputs",
    "case2code_execute": "synthloom.methods.code.case2code:Case2CodeExecute",
    "case2code_solve": "synthloom.methods.code.case2code:Case2CodeSolve",
    "unit_test_synthesis": "synthloom.methods.code.unit_test_synthesis:UnitTestSynthesis",
    # --- methods: instructions A (self-instruct, evol, magpie, personas) ---
    "self_instruct": "synthloom.methods.instructions.self_instruct:SelfInstructBootstrap",
    "self_instruct_classify": "synthloom.methods.instructions.self_instruct_instances:SelfInstructClassify",
    "self_instruct_instances": "synthloom.methods.instructions.self_instruct_instances:SelfInstructInstances",
    "evol_instruct": "synthloom.methods.instructions.evol_instruct:EvolInstruct",
    "evol_eliminate": "synthloom.methods.instructions.evol_instruct:EvolEliminate",
    "magpie": "synthloom.methods.instructions.magpie:MagpieSlots",
    "magpie_instruction": "synthloom.methods.instructions.magpie:MagpieInstruction",
    "magpie_response": "synthloom.methods.instructions.magpie:MagpieResponse",
    "magpie_turns": "synthloom.methods.instructions.magpie:MagpieTurns",
    "magpie_tag": "synthloom.methods.instructions.magpie_tagging:MagpieTag",
    "magpie_neighbors": "synthloom.methods.instructions.magpie_tagging:MagpieNeighbors",
    "magpie_filter": "synthloom.methods.instructions.magpie_tagging:MagpieFilter",
    "magpie_language": "synthloom.methods.instructions.magpie_tagging:MagpieLanguage",
    "personas": "synthloom.methods.instructions.persona:PersonaPool",
    "text_to_persona": "synthloom.methods.instructions.persona:TextToPersona",
    "persona_to_persona": "synthloom.methods.instructions.persona:PersonaToPersona",
    "persona_dedup": "synthloom.methods.instructions.persona:PersonaDedup",
    "persona_synthesize": "synthloom.methods.instructions.persona:PersonaSynthesize",
    # --- methods: instructions B (taxonomy, attributes, orca, humpback, agentinstruct) ---
    "glan_taxonomy": "synthloom.methods.instructions.glan_taxonomy:GlanTaxonomy",
    "glan_subjects": "synthloom.methods.instructions.glan:GlanSubjects",
    "glan_syllabus": "synthloom.methods.instructions.glan:GlanSyllabus",
    "glan_sample_sessions": "synthloom.methods.instructions.glan:GlanSampleSessions",
    "glan_homework": "synthloom.methods.instructions.glan:GlanHomework",
    "lab_taxonomy": "synthloom.methods.instructions.lab:LabTaxonomy",
    "lab_contexts": "synthloom.methods.instructions.lab:LabContexts",
    "lab_questions": "synthloom.methods.instructions.lab:LabQuestions",
    "lab_question_judge": "synthloom.methods.instructions.lab:LabQuestionJudge",
    "lab_answer": "synthloom.methods.instructions.lab:LabAnswer",
    "lab_answer_judge": "synthloom.methods.instructions.lab:LabAnswerJudge",
    "lab_knowledge": "synthloom.methods.instructions.lab_knowledge:LabKnowledge",
    "lab_generate_qa": "synthloom.methods.instructions.lab_knowledge:LabGenerateQA",
    "lab_faithfulness": "synthloom.methods.instructions.lab_knowledge:LabFaithfulness",
    "lab_relevancy": "synthloom.methods.instructions.lab_knowledge:LabRelevancy",
    "lab_question_quality": "synthloom.methods.instructions.lab_knowledge:LabQuestionQuality",
    "attribute_sampler": "synthloom.methods.instructions.samplers:AttributeSampler",
    "attribute_assign": "synthloom.methods.instructions.samplers:AttributeAssign",
    "nemotron_generate": "synthloom.methods.instructions.nemotron:NemotronGenerate",
    "nemotron_revise": "synthloom.methods.instructions.nemotron:NemotronRevise",
    "nemotron_if_constraints": "synthloom.methods.instructions.nemotron_constraints:NemotronConstraints",
    "nemotron_check_constraints": "synthloom.methods.instructions.nemotron_constraints:NemotronCheckConstraints",
    "nemotron_assistant_turn": "synthloom.methods.instructions.nemotron:NemotronAssistantTurn",
    "nemotron_user_turn": "synthloom.methods.instructions.nemotron:NemotronUserTurn",
    # --- verifiable instruction following: IFEval-style constraints, AutoIF ---
    "ifeval_constraints": "synthloom.verify.instructions.steps:IfevalConstraints",
    "ifeval_check": "synthloom.verify.instructions.steps:IfevalCheck",
    "autoif_augment": "synthloom.methods.instructions.autoif:AutoIfAugment",
    "autoif_verifiers": "synthloom.methods.instructions.autoif_verifiers:AutoIfVerifiers",
    "autoif_back_translate": "synthloom.methods.instructions.autoif:AutoIfBackTranslate",
    "autoif_queries": "synthloom.methods.instructions.autoif:AutoIfQueries",
    "autoif_responses": "synthloom.methods.instructions.autoif_verifiers:AutoIfResponses",
    "orca_system_message": "synthloom.methods.instructions.orca:OrcaSystemMessage",
    "orca_teacher": "synthloom.methods.instructions.orca:OrcaTeacher",
    "prompt_erasure": "synthloom.methods.instructions.orca:PromptErasure",
    "humpback_backward": "synthloom.methods.instructions.humpback:HumpbackBackward",
    "humpback_curate": "synthloom.methods.instructions.humpback:HumpbackCurate",
    "humpback_self_curation": "synthloom.methods.instructions.humpback_rounds:HumpbackSelfCuration",
    "agent_instruct_flows": "synthloom.methods.instructions.agent_instruct:AgentInstructFlows",
    "agent_instruct_transform": "synthloom.methods.instructions.agent_instruct:AgentInstructTransform",
    "agent_instruct_seed": "synthloom.methods.instructions.agent_instruct:AgentInstructSeed",
    "agent_instruct_refine": "synthloom.methods.instructions.agent_instruct_refine:AgentInstructRefine",
    "agent_instruct_skills": "synthloom.methods.instructions.agent_instruct:AgentInstructSkills",
    "agent_instruct_answer": "synthloom.methods.instructions.agent_instruct_answer:AgentInstructAnswer",
    # --- methods: pretraining corpora ---
    "wrap": "synthloom.methods.corpus.wrap:WrapRephrase",
    "wrap_mix": "synthloom.methods.corpus.wrap_mix:WrapMix",
    # --- methods: pretraining corpora (TinyStories) and augmentation (AugGPT, DISCO, Self-Translate-Train) ---
    "tinystories_seeds": "synthloom.methods.corpus.tinystories:TinyStoriesSeeds",
    "tinystories_story": "synthloom.methods.corpus.tinystories:TinyStoriesStory",
    "tinystories_words": "synthloom.methods.corpus.tinystories_words:TinyStoriesWords",
    "tinystories_summary": "synthloom.methods.corpus.tinystories_instruct:TinyStoriesSummary",
    "tinystories_instruct": "synthloom.methods.corpus.tinystories_instruct:TinyStoriesInstruct",
    "auggpt": "synthloom.methods.augmentation.auggpt:AugGPT",
    "similarity_filter": "synthloom.methods.augmentation.similarity:SimilarityFilter",
    "disco_spans": "synthloom.methods.augmentation.disco:DiscoSpans",
    "disco_generate": "synthloom.methods.augmentation.disco:DiscoGenerate",
    "disco_teacher": "synthloom.methods.augmentation.disco:DiscoTeacher",
    "self_translate": "synthloom.methods.augmentation.self_translate:SelfTranslate",
    "core_retrieve": "synthloom.methods.augmentation.core:CoreRetrieve",
    "core_edit": "synthloom.methods.augmentation.core:CoreEdit",
    "core_filter": "synthloom.methods.augmentation.core:CoreFilter",
    # --- methods: pretraining corpora (Cosmopedia, phi textbooks) ---
    "cosmopedia_topics": "synthloom.methods.corpus.cosmopedia_topics:CosmopediaTopics",
    "cosmopedia_prompts": "synthloom.methods.corpus.cosmopedia:CosmopediaPrompts",
    "cosmopedia_generate": "synthloom.methods.corpus.cosmopedia:CosmopediaGenerate",
    "phi_textbook": "synthloom.methods.corpus.phi_textbooks:PhiTextbook",
    "phi_exercise": "synthloom.methods.corpus.phi_textbooks_exercises:PhiExercise",
    "phi_solution": "synthloom.methods.corpus.phi_textbooks_exercises:PhiSolution",
    # --- methods: agentic (APIGen) ---
    "apigen_sample": "synthloom.methods.agentic.apigen:ApigenSample",
    "apigen_generate": "synthloom.methods.agentic.apigen:ApigenGenerate",
    "apigen_format": "synthloom.methods.agentic.apigen_checks:ApigenFormat",
    "apigen_execute": "synthloom.methods.agentic.apigen_checks:ApigenExecute",
    "apigen_semantics": "synthloom.methods.agentic.apigen_checks:ApigenSemantics",
    "apigen_answer": "synthloom.methods.agentic.apigen_checks:ApigenAnswer",
    # --- methods: agentic (ToolACE API synthesis, ToolAlpaca simulated tools) ---
    "toolace_domains": "synthloom.methods.agentic.toolace:ToolaceDomains",
    "toolace_synthesize": "synthloom.methods.agentic.toolace:ToolaceSynthesize",
    "toolace_gate": "synthloom.methods.agentic.toolace_gate:ToolaceGate",
    "toolace_catalogue": "synthloom.methods.agentic.toolace_catalogue:ToolaceCatalogue",
    "toolace_sample": "synthloom.methods.agentic.toolace_catalogue:ToolaceSample",
    "toolace_execute": "synthloom.methods.agentic.toolace_catalogue:ToolaceExecute",
    "toolalpaca_toolsets": "synthloom.methods.agentic.toolalpaca:ToolalpacaToolsets",
    "toolalpaca_toolset": "synthloom.methods.agentic.toolalpaca:ToolalpacaToolset",
    "toolalpaca_instructions": "synthloom.methods.agentic.toolalpaca:ToolalpacaInstructions",
    "toolalpaca_simulate": "synthloom.methods.agentic.toolalpaca_simulate:ToolalpacaSimulate",
    # --- methods: agentic (web environment: WebArena-style tasks, AgentTrek tutorial replay) ---
    "web_tasks": "synthloom.methods.agentic.web_agent:WebTasks",
    "web_agent": "synthloom.methods.agentic.web_agent:WebAgent",
    "web_tutorials": "synthloom.methods.agentic.agenttrek:WebTutorials",
    "agenttrek_task": "synthloom.methods.agentic.agenttrek:AgenttrekTask",
    # --- methods: agentic (shell environment: AgentBench OS / InterCode-Bash tasks, trajectories in the sandbox) ---
    "shell_seed_tasks": "synthloom.methods.agentic.shell_tasks:ShellSeedTasks",
    "shell_task_writer": "synthloom.methods.agentic.shell_tasks:ShellTaskWriter",
    "shell_task_check": "synthloom.methods.agentic.shell_tasks:ShellTaskCheck",
    "shell_agent": "synthloom.methods.agentic.shell_agent:ShellAgent",
    # --- methods: agentic (APIGen-MT over stateful environments) ---
    "apigen_mt_tasks": "synthloom.methods.agentic.apigen_mt:ApigenMtTasks",
    "apigen_mt_blueprint": "synthloom.methods.agentic.apigen_mt:ApigenMtBlueprint",
    "apigen_mt_trajectory": "synthloom.methods.agentic.apigen_mt_trajectory:ApigenMtTrajectory",
    # --- methods: agentic (BenchAgents: benchmarks with their checkers) ---
    "benchagents_plan": "synthloom.methods.agentic.benchagents:BenchagentsPlan",
    "benchagents_items": "synthloom.methods.agentic.benchagents:BenchagentsItems",
    "benchagents_generate": "synthloom.methods.agentic.benchagents:BenchagentsGenerate",
    "benchagents_verify": "synthloom.methods.agentic.benchagents_checks:BenchagentsVerify",
    "benchagents_evaluate": "synthloom.methods.agentic.benchagents_checks:BenchagentsEvaluate",
    # --- methods: agentic (Benchmark Self-Evolving; WorFBench workflow graphs) ---
    "self_evolving_operations": "synthloom.methods.agentic.self_evolving:SelfEvolvingOperations",
    "self_evolving_reframe": "synthloom.methods.agentic.self_evolving:SelfEvolvingReframe",
    "self_evolving_verify": "synthloom.methods.agentic.self_evolving:SelfEvolvingVerify",
    "worfbench_generate": "synthloom.methods.agentic.worfbench:WorfbenchGenerate",
    "worfbench_check": "synthloom.methods.agentic.worfbench:WorfbenchCheck",
    "worfbench_evaluate": "synthloom.methods.agentic.worfbench_eval:WorfbenchEvaluate",
    # --- methods: agentic (the agent loop over environments; text-to-SQL tasks) ---
    "agent_loop": "synthloom.methods.agentic.agent_loop:AgentLoop",
    "text_to_sql_tasks": "synthloom.methods.agentic.text_to_sql:TextToSqlTasks",
    "text_to_sql_questions": "synthloom.methods.agentic.text_to_sql:TextToSqlQuestions",
    "text_to_sql_reference": "synthloom.methods.agentic.text_to_sql:TextToSqlReference",
    # --- methods: agentic (SWE-smith in miniature: repositories, bugs, issues for the code workspace) ---
    "swe_repos": "synthloom.methods.agentic.swe_mini:SweRepos",
    "swe_bugs": "synthloom.methods.agentic.swe_mini:SweBugs",
    "swe_task": "synthloom.methods.agentic.swe_mini:SweTask",
    # --- methods: agentic (CAMEL role-playing, simulated-user conversations) ---
    "camel_roles": "synthloom.methods.agentic.camel_roles:CamelRoles",
    "camel": "synthloom.methods.agentic.camel:Camel",
    "simulated_user": "synthloom.methods.agentic.simulated_user:SimulatedUser",
    # --- methods: agentic (ChatDev software team, ALMITA agent tests) ---
    "chatdev": "synthloom.methods.agentic.chatdev:ChatDev",
    "agent_test_paths": "synthloom.methods.agentic.agent_tests_paths:AgentTestPaths",
    "agent_tests": "synthloom.methods.agentic.agent_tests:AgentTests",
    # --- methods: preference (completion pools, pairs, KTO labels, reward scoring) ---
    "completions": "synthloom.methods.preference.completion_pool:CompletionPool",
    "pairs": "synthloom.methods.preference.pairs:Pairs",
    "kto_labels": "synthloom.methods.preference.pairs:KtoLabels",
    "reward_score": "synthloom.methods.preference.reward:RewardScore",
    "best_of_n": "synthloom.methods.preference.reward:BestOfN",
    "reward_difference": "synthloom.methods.preference.reward:RewardDifference",
    # --- methods: preference (UltraFeedback, CLAIR, Self-Rewarding, SPIN) ---
    "ultrafeedback_completions": "synthloom.methods.preference.ultrafeedback:UltraFeedbackCompletions",
    "ultrafeedback": "synthloom.methods.preference.ultrafeedback:UltraFeedbackRate",
    "clair": "synthloom.methods.preference.clair:ClairRevise",
    "self_rewarding": "synthloom.methods.preference.self_rewarding:SelfRewarding",
    "self_rewarding_judge": "synthloom.methods.preference.self_rewarding:SelfRewardingJudge",
    "self_judge": "synthloom.methods.preference.self_judge:SelfJudge",
    "spin": "synthloom.methods.preference.spin:SpinPairs",
    # --- methods: preference (Constitutional AI, Arena Learning, CoAnnotating) ---
    "constitutional": "synthloom.methods.preference.constitutional:ConstitutionalRevision",
    "constitutional_feedback": "synthloom.methods.preference.constitutional_feedback:ConstitutionalFeedback",
    "arena_battles": "synthloom.methods.preference.arena:ArenaBattles",
    "arena_data": "synthloom.methods.preference.arena_data:ArenaData",
    "arena_ratings": "synthloom.methods.preference.arena_data:ArenaRatings",
    "coannotate": "synthloom.methods.preference.coannotating:CoAnnotate",
    "coannotate_route": "synthloom.methods.preference.coannotating:CoAnnotateRoute",
    # --- methods: knowledge-infused QA (ClinGen), Baize self-chat, LLM annotation agreement, HelpSteer/SteerLM ---
    "knowledge_qa": "synthloom.methods.instructions.knowledge_qa:KnowledgeQA",
    "fact_check": "synthloom.methods.instructions.knowledge_qa:FactCheck",
    "baize_self_chat": "synthloom.methods.agentic.baize:BaizeSelfChat",
    "label_agreement": "synthloom.methods.annotation.llm_annotation:LabelAgreement",
    "steerlm_rows": "synthloom.methods.preference.helpsteer:SteerLMRows",
    # --- methods: preference (Fellowship of the LLMs, preference trees) ---
    "fellowship_generate": "synthloom.methods.preference.fellowship:FellowshipGenerate",
    "fellowship_evaluate": "synthloom.methods.preference.fellowship:FellowshipEvaluate",
    "fellowship_agreement": "synthloom.methods.preference.fellowship_report:FellowshipAgreement",
    "preference_tree": "synthloom.methods.reasoning.preference_trees:PreferenceTree",
    # --- tabular: baselines, schema validation ---
    "table_copula": "synthloom.tabular.baselines:TableCopula",
    "table_cart": "synthloom.tabular.baselines:TableCart",
    "table_validate": "synthloom.tabular.generator_step:TableValidate",
    "mallm_gan": "synthloom.methods.tabular.mallm_gan:MallmGan",
    "table_samplers": "synthloom.tabular.sampler_steps:TableSamplers",
    "table_llm_columns": "synthloom.tabular.sampler_steps:TableLLMColumns",
}


def register_step_type(name: str, target: str) -> None:
    """Make ``type: name`` available in recipes (``target`` is ``"module:Class"``)."""
    STEP_TYPES[name] = target


def step_class(type_name: str) -> type:
    module, _, cls = STEP_TYPES[type_name].partition(":")
    return getattr(importlib.import_module(module), cls)


def step_options(cls: type) -> dict[str, inspect.Parameter]:
    """The options a recipe may give a step of class ``cls`` (all but Python-only ones)."""
    return {k: p for k, p in config.step_options(cls).items() if k not in cls.python_only_options}
