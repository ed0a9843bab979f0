"""Times the `lifetimes` BG/NBD and Gamma-Gamma fits on a summary CSV (run by bench/run.py).

    python bench/lifetimes_fit.py FILE

FILE has `frequency`, `recency`, `T`, `monetary_value` columns. Prints one JSON object with the
wall time of each fit (one run; reading the file is not timed), the parameters, and whether
scipy's minimiser reported success.
"""

import json
import sys
import time
import warnings

import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter

warnings.filterwarnings("ignore")


def main(path):
    d = pd.read_csv(path)
    rep = d[(d["frequency"] > 0) & (d["monetary_value"] > 0)]
    start = time.perf_counter()
    bg = BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"])
    bg_seconds = time.perf_counter() - start
    start = time.perf_counter()
    gg = GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
    gg_seconds = time.perf_counter() - start
    out = {
        "customers": len(d),
        "repeat_customers": len(rep),
        "bgnbd": {
            "seconds": bg_seconds,
            "params": {k: float(bg.params_[k]) for k in ["r", "alpha", "a", "b"]},
        },
        "gamma_gamma": {
            "seconds": gg_seconds,
            # lifetimes calls the scale parameter v; the value crate calls it gamma.
            "params": {"p": float(gg.params_["p"]), "q": float(gg.params_["q"]),
                       "gamma": float(gg.params_["v"])},
        },
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
