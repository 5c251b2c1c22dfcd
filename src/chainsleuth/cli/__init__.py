"""L4: the Typer command line. Each command: parse -> workspace call -> render."""
