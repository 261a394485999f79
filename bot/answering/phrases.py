"""The bot's own sentences, Dutch and English. Guidance text never comes from here."""

from __future__ import annotations

PHRASES: dict[str, dict[str, str]] = {
    "answered": {
        "nl": "Dit zegt de handreiking hierover. De citaten hieronder zijn letterlijk; "
        "lees de hele paragraaf via de link.",
        "en": "This is what the guidance says about it. The quotes below are verbatim and in "
        "Dutch, as the guidance is; follow the link for the whole section.",
    },
    "not_covered": {
        "nl": "De handreiking gaat niet over deze vraag, dus daar kan ik geen antwoord op "
        "citeren. Dit zijn de onderdelen die er het dichtst bij komen:",
        "en": "The guidance does not cover this question, so I have no answer to quote. "
        "These are the sections that come closest:",
    },
    "empty": {
        "nl": "Stel gerust een vraag over ketensturing, bijvoorbeeld: "
        "‘Hoe begin je met een nieuwe keten?’ of ‘Wat doe je als er iets misgaat?’",
        "en": "Go ahead and ask a question about chain governance, for example: "
        "'How do we get a new chain started?' or 'What should we do when something fails?'",
    },
    "no_words": {
        "nl": "Ik zie geen woorden in je bericht. Stel je vraag in een zin, bijvoorbeeld: "
        "‘Hoe bouwen we vertrouwen op tussen de ketenpartners?’",
        "en": "I can't find any words in your message. Please ask in a sentence, for example: "
        "'How do we build trust between the partners?'",
    },
    "other_language": {
        "nl": "Ik beantwoord vragen in het Nederlands en het Engels. "
        "Stel je vraag gerust opnieuw in een van die talen. "
        "(I answer questions in Dutch and English.)",
        "en": "I answer questions in Dutch and English. Please ask again in one of those "
        "languages. (Ik beantwoord vragen in het Nederlands en het Engels.)",
    },
    "failed": {
        "nl": "Er ging iets mis bij het beantwoorden van je vraag. Probeer het over een paar minuten "
        "opnieuw; je vraag is niet verloren, je kunt hem gewoon nog eens stellen.",
        "en": "Something went wrong while answering your question. Please try again in a few "
        "minutes by asking it once more.",
    },
    "no_feedback": {
        "nl": "Waarderen kan even niet: de opslag is tijdelijk niet bereikbaar.",
        "en": "Feedback is unavailable for a moment: storage cannot be reached.",
    },
    "ai_answered": {
        "nl": "Hieronder een antwoord dat een taalmodel schreef op basis van de handreiking, met "
        "verwijzingen [n] naar de letterlijke citaten eronder. De citaten gaan voor: controleer ze.",
        "en": "Below is an answer a language model wrote from the guidance, with references [n] "
        "to the verbatim quotes under it (in Dutch, as the guidance is). The quotes are what count: "
        "check them.",
    },
    "ai_fallback": {
        "nl": "Het taalmodel gaf nu geen antwoord dat ik kon controleren, dus ik citeer alleen de "
        "handreiking.",
        "en": "The language model gave no answer I could check just now, so I only quote the "
        "guidance.",
    },
    "working": {
        "nl": "Ik zoek in de handreiking…",
        "en": "Searching the guidance…",
    },
    "writing": {
        "nl": "Een taalmodel schrijft nog; alleen gecontroleerde zinnen staan hier.",
        "en": "A language model is still writing; only checked sentences are shown.",
    },
    "truncated": {
        "nl": "Je bericht is erg lang; ik heb alleen de eerste {limit} tekens gebruikt.",
        "en": "Your message is very long; I used only its first {limit} characters.",
    },
}


def phrase(key: str, language: str, **values: object) -> str:
    table = PHRASES[key]
    return table.get(language, table["nl"]).format(**values)
