"""itilflow's benchmarks: ``python -m bench --tickets 10000,100000,1000000``."""
