"""Reference standard errors for the value crate's tests (`stderr` in each model's tests).

Independent of the Rust code: each log-likelihood is written out from the papers with mpmath
(1.3.0) at 30 significant digits, the maximum is refined by Newton's method from the estimates
recorded in the tests, and the observed information is the Hessian of the total negative
log-likelihood in the natural parameters by mpmath.diff (high-precision finite differences),
inverted with mpmath.inverse. Standard errors are the square roots of its diagonal.

    python3 crates/value/reference/standard_errors.py   # about a minute; prints each model
"""

import collections
import datetime
import os

import mpmath as mp

mp.mp.dps = 30
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "..", "tests", "fixtures", "cdnow")


def published_rfm():
    """Distinct (x, tx, T) rows of cdnow_customers_summary.csv with counts."""
    rows = collections.Counter()
    with open(os.path.join(FIXTURES, "cdnow_customers_summary.csv")) as f:
        next(f)
        for line in f:
            _, x, tx, t = line.strip().split(",")
            rows[(mp.mpf(x), mp.mpf(tx), mp.mpf(t))] += 1
    return list(rows.items())


def cdnow_spend():
    """(frequency, mean repeat spend) of the repeat customers, calibration to 1997-09-30."""
    days = collections.defaultdict(lambda: collections.defaultdict(float))
    with open(os.path.join(FIXTURES, "CDNOW_sample.txt")) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 5:
                continue
            d = datetime.date(int(parts[2][:4]), int(parts[2][4:6]), int(parts[2][6:]))
            if d <= datetime.date(1997, 9, 30):
                days[parts[1]][d] += float(parts[4])
    out = []
    for cust in days.values():
        amounts = [cust[d] for d in sorted(cust)]
        x = len(amounts) - 1
        if x > 0:
            out.append((mp.mpf(x), mp.mpf(repr(sum(amounts[1:]) / x))))
    return out


def bgnbd_ll(data):
    def ll(r, alpha, a, b):
        total = 0
        for (x, tx, t), n in data:
            common = mp.loggamma(r + x) - mp.loggamma(r) + r * mp.log(alpha)
            lbab = mp.log(mp.beta(a, b))
            t1 = mp.log(mp.beta(a, b + x)) - lbab + common - (r + x) * mp.log(alpha + t)
            if x > 0:
                t2 = (mp.log(mp.beta(a + 1, b + x - 1)) - lbab + common
                      - (r + x) * mp.log(alpha + tx))
                total += n * mp.log(mp.exp(t1) + mp.exp(t2))
            else:
                total += n * t1
        return total
    return ll


def pareto_ll(data):
    def ll(r, alpha, s, beta):
        total = 0
        for (x, tx, t), n in data:
            rsx = r + s + x
            if alpha >= beta:
                big, b2 = alpha, s + 1
            else:
                big, b2 = beta, r + x
            z = lambda y: abs(alpha - beta) / (big + y)
            a0 = (mp.hyp2f1(rsx, b2, rsx + 1, z(tx)) / (big + tx) ** rsx
                  - mp.hyp2f1(rsx, b2, rsx + 1, z(t)) / (big + t) ** rsx)
            lead = mp.loggamma(r + x) - mp.loggamma(r) + r * mp.log(alpha) + s * mp.log(beta)
            inner = 1 / ((alpha + t) ** (r + x) * (beta + t) ** s) + s / rsx * a0
            total += n * (lead + mp.log(inner))
        return total
    return ll


def gamma_gamma_ll(data):
    def ll(p, q, g):
        total = 0
        for x, m in data:
            px = p * x
            total += (mp.loggamma(px + q) - mp.loggamma(px) - mp.loggamma(q) + q * mp.log(g)
                      + (px - 1) * mp.log(m) + px * mp.log(x) - (px + q) * mp.log(g + m * x))
        return total
    return ll


def sbg_ll(alive):
    def ll(a, b):
        total = 0
        for t in range(1, len(alive)):
            lost = alive[t - 1] - alive[t]
            total += lost * (mp.log(mp.beta(a + 1, b + t - 1)) - mp.log(mp.beta(a, b)))
        n = len(alive) - 1
        total += alive[n] * (mp.log(mp.beta(a, b + n)) - mp.log(mp.beta(a, b)))
        return total
    return ll


def hessian(f, theta):
    k = len(theta)
    h = mp.matrix(k, k)
    for i in range(k):
        for j in range(i, k):
            order = [0] * k
            order[i] += 1
            order[j] += 1
            h[i, j] = h[j, i] = mp.diff(lambda *v: f(*v), theta, tuple(order))
    return h


def gradient(f, theta):
    k = len(theta)
    g = mp.matrix(k, 1)
    for i in range(k):
        order = [0] * k
        order[i] = 1
        g[i] = mp.diff(lambda *v: f(*v), theta, tuple(order))
    return g


def report(name, names, ll, start, newton_steps=2):
    theta = [mp.mpf(v) for v in start]
    for _ in range(newton_steps):
        g = gradient(ll, theta)
        h = hessian(ll, theta)
        step = mp.lu_solve(h, g)
        theta = [theta[i] - step[i] for i in range(len(theta))]
    g = gradient(ll, theta)
    cov = mp.inverse(-hessian(ll, theta))
    print(f"{name}: LL = {mp.nstr(ll(*theta), 17)}, max |gradient| = "
          f"{mp.nstr(max(abs(v) for v in g), 3)}")
    for i, n in enumerate(names):
        print(f"  {n:6s} = {mp.nstr(theta[i], 12):>16s}  SE = {mp.nstr(mp.sqrt(cov[i, i]), 12)}")


if __name__ == "__main__":
    rfm = published_rfm()
    report("BG/NBD, cdnow_customers_summary.csv", ["r", "alpha", "a", "b"], bgnbd_ll(rfm),
           ["0.242592907204", "4.41353156121", "0.792886148099", "2.42575343649"])
    report("Pareto/NBD, cdnow_customers_summary.csv", ["r", "alpha", "s", "beta"],
           pareto_ll(rfm),
           ["0.55327550869", "10.5776122387", "0.606213568674", "11.6679112379"])
    report("Gamma-Gamma, CDNOW_sample.txt repeat customers", ["p", "q", "gamma"],
           gamma_gamma_ll(cdnow_spend()),
           ["6.24957227132", "3.74422466713", "15.4435209626"])
    regular = [1000, 631, 468, 382, 326, 289, 262, 241]
    report("sBG, regular cohort of Fader & Hardie (2007), 1000 customers", ["alpha", "beta"],
           sbg_ll([mp.mpf(v) for v in regular]), ["0.704077298474", "1.18204302621"])
