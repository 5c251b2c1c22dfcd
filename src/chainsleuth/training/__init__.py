"""L2: seeded scenario generators, exercises, grading and locales."""
