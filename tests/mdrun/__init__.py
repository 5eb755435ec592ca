"""mdrun: run every code block of a Markdown page as a pytest test."""
