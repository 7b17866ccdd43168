"""The engine: manifest, options, the blueprint contract and discovery, render, samconfig, errors, cache."""
