"""Teachers' material: solutions of the notebook exercises (never imported by ``lab/``)."""
