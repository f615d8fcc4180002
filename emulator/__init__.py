"""A loopback Microsoft Graph and Entra ID token service for tests, demos and benchmarks.

Not part of Rapport's runtime: it installs with the `emulator` extra
(`pip install 'rapport[emulator]'`, which the `dev` extra includes), since it
needs test-only libraries (trustme, for its throw-away TLS authority). Without
them the package refuses to import, saying so, instead of failing later in
whichever module first needs them.
"""

try:
    import trustme  # noqa: F401 - the extra's marker: present exactly when the extra is
except ModuleNotFoundError as missing:
    raise ModuleNotFoundError(
        "the emulator needs its extra: pip install 'rapport[emulator]'", name=missing.name
    ) from None
