"""Operations: metrics (``/metrics``), readiness (``/healthz``) and structured, redacted logs."""
