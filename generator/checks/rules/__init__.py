"""The project's policy checks as cfn-lint rules (ids in cfn-lint's 9xxx user range).

cfn-lint loads every ``[A-Za-z1-9]*.py`` file in this directory as a rule module
(``--append-rules`` with a directory, see ``generator.checks.cfn_setup``); modules whose name
starts with an underscore hold shared helpers and are imported by the rules, never
loaded as rules. One rule per file, each with a good and a bad template under
``tests/lint_fixtures/``.
"""
