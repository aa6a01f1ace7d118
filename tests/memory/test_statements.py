"""Reading a message without a model: statements, forget requests, chatter, facts in questions."""

from __future__ import annotations

import pytest

from hippograph.memory.statements import embedded_fact, forget_target, is_chatter, read_message


@pytest.mark.parametrize(
    ("text", "statements", "forget"),
    [
        (
            "Hi! I live in Lisbon and I work as a data engineer at Acme.",
            ["I live in Lisbon.", "I work as a data engineer at Acme."],
            [],
        ),
        ("My sister lives in Porto, and my brother lives in Rome.", None, []),
        ("Did I tell you I have a cat named Miso?", ["I have a cat named Miso."], []),
        ("Can you remember that my birthday is on May 3?", ["My birthday is on May 3."], []),
        ("Did I mention my dog is called Pixel?", ["My dog is called Pixel."], []),
        ("Please forget where I live.", [], ["where I live"]),
        ("Thanks! Could you forget that I have a dog?", [], ["I have a dog"]),
        ("Forget it, I'll fix it myself.", [], []),
        ("I never forget a face.", ["I never forget a face."], []),
        ("Where do I live?", [], []),
        ("lol", [], []),
        ("Ok cool, thanks so much!", [], []),
        ("/help", [], []),
        ("I'm 34.", ["I'm 34."], []),
    ],
)
def test_read_message(text, statements, forget):
    reading = read_message(text)
    if statements is not None:
        assert reading.statements == statements
    else:
        assert reading.statements == ["My sister lives in Porto.", "My brother lives in Rome."]
    assert reading.forget == forget


def test_what_is_left_out_is_said():
    reading = read_message("Hi! Where do I live?")
    assert reading.skipped == [("Hi!", "chatter"), ("Where do I live?", "question")]
    assert read_message("/export all").skipped == [("/export all", "command")]
    assert read_message("Where do I live?", keep_questions=True).statements == ["Where do I live?"]


@pytest.mark.parametrize("text", ["Hi!", "thank you so much", "haha", "👍", "ok.", "Good morning"])
def test_chatter(text):
    assert is_chatter(text)


@pytest.mark.parametrize("text", ["I'm 34", "Hi, I'm Ana", "My cat is Miso"])
def test_not_chatter(text):
    assert not is_chatter(text)


def test_forget_needs_a_named_target():
    assert forget_target("forget about my old job!") == "my old job"
    assert forget_target("Please forget it") is None
    assert forget_target("forget everything") is None
    assert forget_target("Forget my address from your memory") == "my address"
    assert embedded_fact("Did I tell you?") is None
