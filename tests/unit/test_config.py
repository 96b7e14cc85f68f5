"""Which servers the app uses: unset URLs mean embedded servers outside production, `off` means
no Redis, and production refuses to start without every URL."""
from __future__ import annotations

import pytest

from benefits import create_app
from config import EMBEDDED, ProductionConfig, redis_url_from_env


@pytest.mark.parametrize("value, setting", [(None, EMBEDDED), ("", EMBEDDED), ("off", None),
                                            ("redis://cache:6379/0", "redis://cache:6379/0")])
def test_redis_url_from_the_environment(monkeypatch, value, setting):
    if value is None:
        monkeypatch.delenv("REDIS_URL", raising=False)
    else:
        monkeypatch.setenv("REDIS_URL", value)
    assert redis_url_from_env() == setting


@pytest.mark.parametrize("unset", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL"])
def test_production_refuses_to_start_without_each_setting(monkeypatch, unset):
    for name, value in (("SECRET_KEY", "s" * 32), ("DATABASE_URL", "postgresql://db/benefits"), ("REDIS_URL", "off")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(unset)
    with pytest.raises(RuntimeError, match=unset):
        create_app(ProductionConfig)
