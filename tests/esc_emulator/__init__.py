"""EMULATOR of the two Pulumi ESC REST API calls the collection makes, for tests only. Not Pulumi Cloud.

Serves, over plain HTTP on 127.0.0.1, opening an environment and reading the open session, written from
Pulumi's public API reference. What it mirrors, and every simplification, is listed in server.py.
"""
