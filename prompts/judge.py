"""Prompts of the evaluation: answering from memories, and the LLM judge (mem0/LoCoMo protocol)."""

ANSWER_WITH_MEMORY = """You answer questions about a long conversation using only the memories
below. Each memory is a line said in the conversation, with the date it was said.
Rules:
- Answer briefly (a few words or one sentence).
- For questions about time, convert relative expressions ("last week", "yesterday") into a
  date using the memory's date.
- If the memories do not contain the answer, say exactly: "I don't know."

Memories:
{memories}"""

JUDGE = """Your task is to label an answer to a question as 'CORRECT' or 'WRONG'. You will be
given: (1) a question (posed by one user to another user), (2) a 'gold' (ground truth) answer,
(3) a generated answer which you will score as CORRECT/WRONG.

The point of the question is to ask about something one user should know about the other user
based on their prior conversations. The gold answer will usually be a concise and short
answer that includes the referenced topic. The generated answer might be much longer, but you
should be generous with your grading - as long as it touches on the same topic as the gold
answer, it should be counted as CORRECT. For time-related questions, the gold answer will be a
specific date, month, year, etc. The generated answer might be much longer or use relative
time references (like "last Tuesday" or "next month"), but you should be generous with your
grading - as long as it refers to the same date or time period as the gold answer, it should
be counted as CORRECT. Even if the format differs (e.g., "May 7th" vs "7 May"), consider it
CORRECT if it's the same date.

Question: {question}
Gold answer: {reference}
Generated answer: {answer}

First, provide a short (one sentence) explanation of your reasoning, then finish with
CORRECT or WRONG."""

SAYS_UNKNOWN = """Does the answer below decline to answer the question — saying it does not
know, that the information is not available, or that the premise is not supported — rather
than stating a fact?

Question: {question}
Answer: {answer}"""
