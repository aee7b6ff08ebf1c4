"""PicoStim firmware package: pure modules here, hardware access only in stim.hal."""
