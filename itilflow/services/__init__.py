"""The use cases. Each takes the session, the actor and the time, loads what it needs, asks the
domain what is allowed, writes the change with its history event and outbox rows, and flushes.
The caller (a request, a job, the CLI) commits once, or rolls everything back."""
