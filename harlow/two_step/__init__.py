"""The two-step task (Daw et al. 2011) as in Wang et al. 2018, Fig. 5."""
