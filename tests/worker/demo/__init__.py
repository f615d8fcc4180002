"""Tests of worker/demo."""
