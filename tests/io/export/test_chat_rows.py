"""Which columns of a plain row the trainer exports read: prompts, system prompts, answers, pairs and KTO labels."""

from __future__ import annotations

import pytest

from synthloom.io.export.chat_rows import (
    Columns,
    Unusable,
    kto_examples,
    missing_columns,
    read_pair,
    read_prompt,
    sft_examples,
)

DEFAULT = Columns()


def user(text: str) -> tuple[dict[str, str], ...]:
    return ({"role": "user", "content": text},)


@pytest.mark.parametrize(("row", "text"), [
    ({"prompt": "p", "instruction": "i", "question": "q"}, "p"),
    ({"instruction": "Translate.", "input": "Bonjour", "response": "Hello"}, "Translate.\n\nBonjour"),
    ({"query": "augmented", "question": "original"}, "augmented"),  # MetaMath: the answer answers the query
    ({"question": "q", "problem": "x"}, "q"),
    ({"problem": "Write fizzbuzz.", "solution": "..."}, "Write fizzbuzz."),
    ({"prompt": "  ", "instruction": "the first non-empty one"}, "the first non-empty one"),
])
def test_the_prompt_is_the_first_non_empty_prompt_column(row, text):
    prompt = read_prompt(row, DEFAULT)
    assert prompt.turns == user(text) and prompt.system is None


def test_an_instruction_keeps_its_input_apart_for_alpaca():
    prompt = read_prompt({"instruction": "Translate.", "input": "Bonjour"}, DEFAULT)
    assert (prompt.instruction, prompt.input) == ("Translate.", "Bonjour")


def test_multi_turn_prompts_and_system_prompts():
    turns = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
             {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye?"}]
    prompt = read_prompt({"prompt": "Bye?", "prompt_messages": turns}, DEFAULT)
    assert prompt.system == "Be brief." and prompt.multi_turn and [t["role"] for t in prompt.turns] == ["user", "assistant", "user"]
    assert prompt.messages()[0] == {"role": "system", "content": "Be brief."}
    with pytest.raises(Unusable) as caught:
        prompt.text()
    assert caught.value.reason == "multi_turn"
    flat = read_prompt({"prompt": "Hi", "system": "Be brief."}, DEFAULT)
    assert flat.text() == "Be brief.\n\nHi" and flat.messages() == [{"role": "system", "content": "Be brief."},
                                                                   {"role": "user", "content": "Hi"}]
    assert read_prompt({"prompt": "Hi", "system": ""}, DEFAULT).system is None


def test_the_prompt_column_option_takes_text_or_messages():
    row = {"prompt": "not this", "task": "Sum 2 and 2.", "chat": [{"role": "user", "content": "Sum 2 and 2."}]}
    assert read_prompt(row, Columns(prompt="task")).turns == user("Sum 2 and 2.")
    assert read_prompt(row, Columns(prompt="chat")).turns == user("Sum 2 and 2.")
    with pytest.raises(Unusable, match="column 'missing' holds no prompt text") as caught:
        read_prompt(row, Columns(prompt="missing"))
    assert caught.value.reason == "no_prompt"


@pytest.mark.parametrize(("row", "answer"), [
    ({"prompt": "p", "response": "r", "chosen": "c"}, "r"),  # Constitutional AI: the revision is the SFT target
    ({"instruction": "i", "output": "o"}, "o"),  # Humpback
    ({"question": "q", "solution": "worked", "answer": "4"}, "worked"),  # ReST-EM samples: the solution, not the number
    ({"question": "q", "answer": "4"}, "4"),
    ({"question": "q", "rationale": "because"}, "because"),  # STaR
    ({"prompt": "p", "chosen": "c", "rejected": "r"}, "c"),  # a pair's chosen side
    ({"question": "q", "solution": "the seed's gold", "answer": "4", "chosen": "verified sample", "rejected": "x"},
     "verified sample"),  # verified-pairs rows keep the seed's columns: the pair is the run's product
])
def test_the_answer_is_the_first_non_empty_answer_column(row, answer):
    [example] = sft_examples(row, DEFAULT)
    assert example.response == answer


def test_a_conversation_is_taken_whole_and_its_last_assistant_message_is_the_answer():
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]
    [example] = sft_examples({"prompt": "a", "messages": messages}, DEFAULT)
    assert example.prompt.system == "S" and example.response == "d" and len(example.prompt.turns) == 3
    # a conversation that does not end with the assistant: the columns instead
    [example] = sft_examples({"prompt": "a", "response": "r", "messages": messages[:2]}, DEFAULT)
    assert example.response == "r"
    with pytest.raises(Unusable, match="does not end with an assistant message"):
        sft_examples({"messages": messages[:2]}, DEFAULT)


def test_the_columns_options_win_over_messages():
    row = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "task": "t", "better": "B"}
    [example] = sft_examples(row, Columns(prompt="task", response="better"))
    assert example.prompt.turns == user("t") and example.response == "B"
    with pytest.raises(Unusable) as caught:
        sft_examples(row, Columns(prompt="task", response="nope"))
    assert caught.value.reason == "no_response"


def test_self_instruct_rows_give_one_example_per_instance():
    row = {"instruction": "Classify the sentiment.", "is_classification": True,
           "instances": [{"input": "I love it", "output": "positive"}, {"input": "", "output": "no input here"},
                         {"input": "x", "output": ""}]}
    examples = sft_examples(row, DEFAULT)
    assert [(e.prompt.instruction, e.prompt.input, e.response) for e in examples] == [
        ("Classify the sentiment.", "I love it", "positive"), ("Classify the sentiment.", "", "no input here")]
    assert examples[0].prompt.turns == user("Classify the sentiment.\n\nI love it")


def test_models_come_from_the_answer_s_column():
    assert sft_examples({"prompt": "p", "chosen": "c", "chosen_model": "big", "model": "x"}, DEFAULT)[0].model == "big"
    assert sft_examples({"prompt": "p", "response": "r", "response_model": "winner"}, DEFAULT)[0].model == "winner"
    assert sft_examples({"prompt": "p", "completion": "c", "label": True, "model": "m"}, DEFAULT)[0].model == "m"
    assert sft_examples({"prompt": "p", "response": "r"}, DEFAULT)[0].model is None


def test_undesirable_and_empty_rows_are_no_sft_targets():
    for row, reason in [({"prompt": "p", "completion": "c", "label": False}, "undesirable"),
                        ({"response": "r"}, "no_prompt"), ({"prompt": "p"}, "no_response"),
                        ({"messages": [{"role": "tool", "content": "x"}]}, "malformed")]:
        with pytest.raises(Unusable) as caught:
            sft_examples(row, DEFAULT)
        assert caught.value.reason == reason


def test_pairs_and_kto_labels():
    row = {"question": "q", "chosen": "good", "rejected": "bad", "chosen_model": "a", "rejected_model": "b",
           "pair_rule": "best_vs_worst"}
    pair = read_pair(row, DEFAULT)
    assert (pair.prompt.turns, pair.chosen, pair.rejected, pair.chosen_model, pair.rejected_model, pair.pair_rule) == (
        user("q"), "good", "bad", "a", "b", "best_vs_worst")
    assert [(k.completion, k.label, k.model) for k in kto_examples(row, DEFAULT)] == [("good", True, "a"), ("bad", False, "b")]
    kto = {"prompt": "p", "completion": "c", "label": False, "model": "m", "score": 1.0}
    assert [(k.completion, k.label, k.model) for k in kto_examples(kto, DEFAULT)] == [("c", False, "m")]
    for bad, reason in [({"prompt": "p", "chosen": "c"}, "no_pair"), ({"prompt": "p", "chosen": "c", "rejected": " "}, "no_pair")]:
        with pytest.raises(Unusable) as caught:
            read_pair(bad, DEFAULT)
        assert caught.value.reason == reason
    with pytest.raises(Unusable) as caught:
        kto_examples({"prompt": "p", "response": "r", "label": "positive"}, DEFAULT)  # a class label is no KTO label
    assert caught.value.reason == "no_label"


def test_missing_columns_name_what_a_format_needs():
    assert missing_columns({"prompt": "p", "response": "r"}, "pair", DEFAULT) == ["chosen, rejected"]
    assert missing_columns({"text": "t"}, "sft", DEFAULT)[0].startswith("a prompt (prompt, instruction")
    assert missing_columns({"prompt": "p"}, "sft", Columns(response="answer_text")) == ["answer_text"]
    assert missing_columns({"prompt": "p", "response": "r"}, "kto", DEFAULT) == ["label, completion or chosen, rejected"]
    assert missing_columns({"prompt": "p", "chosen": "c", "rejected": "r"}, "kto", DEFAULT) == []
