"""A person's rights over what Ketenbot keeps about them, and how long it keeps it (issue 8).

- :mod:`bot.privacy.places`: every place a Slack user id is kept (the one list).
- :mod:`bot.privacy.export`: ``/keten mijn-gegevens`` — all of it as a JSON file (AVG art. 15).
- :mod:`bot.privacy.erase`: ``/keten vergeet-mij`` — erase it everywhere (AVG art. 17).
- :mod:`bot.privacy.retention`: ``RETENTION_DAYS`` — the daily purge of older records.
- :mod:`bot.privacy.texts`: what the bot says about it, in Dutch and English.
"""
