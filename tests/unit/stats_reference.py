#!/usr/bin/env python3
"""Reference values for tests/unit/test_stats.c and test_decide.c.

Computed independently of experiments/stats.c: python3's math module and the
standard library's statistics.NormalDist (its own inverse CDF), with the
formulas written out from the design's STATISTICS.md; means and variances from
raw samples (statistics.mean / statistics.variance), not from sums of squares.
Run: python3 tests/unit/stats_reference.py  (prints the values the C tests pin)
"""
import math
import statistics

N = statistics.NormalDist()


def rho2(alpha, n_star):
    l = -2 * math.log(alpha)
    return (l + math.log(l + 1)) / n_star


def cs_mult(n, alpha, n_star):
    r2 = rho2(alpha, n_star)
    return math.sqrt(n) * math.sqrt(2 * (n * r2 + 1) / (n * n * r2)
                                    * math.log(math.sqrt(n * r2 + 1) / alpha))


def wilson(x, n, z):
    p = x / n
    den = 1 + z * z / n
    c = (p + z * z / (2 * n)) / den
    h = z / den * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, c - h), min(1.0, c + h)


def show(name, v):
    print(f"{name:40s} {v!r}")


# distributions
show("Phi(1.96)", N.cdf(1.96))
show("Phi(-3)", N.cdf(-3))
show("quantile(0.975)", N.inv_cdf(0.975))
show("quantile(0.8)", N.inv_cdf(0.8))
show("quantile(0.95)", N.inv_cdf(0.95))
show("quantile(1e-10)", N.inv_cdf(1e-10))
show("quantile(0.9995)^2 (chi2 crit p=.001)", N.inv_cdf(0.9995) ** 2)
show("chi2 df1 sf(10.83)", math.erfc(math.sqrt(10.83 / 2)))
show("chi2 df1 sf(3.841458820694124)", math.erfc(math.sqrt(3.841458820694124 / 2)))

# confidence sequences
show("rho(0.05, 5000)", math.sqrt(rho2(0.05, 5000)))
for n in (500, 5000, 100000):
    show(f"cs_mult({n})", cs_mult(n, 0.05, 5000))
show("cs_mult(2000)", cs_mult(2000, 0.05, 5000))

# Wilson
show("wilson(8,10,1.96)", wilson(8, 10, 1.96))
show("wilson(0,20,1.96)", wilson(0, 20, 1.96))
z95 = N.inv_cdf(0.95)
show("wilson(90,100,z.95)", wilson(90, 100, z95))
show("wilson(450,500,z.95)", wilson(450, 500, z95))

# sample size 10% -> 12%, alpha .05 two-sided, power .8
za, zb = N.inv_cdf(0.975), N.inv_cdf(0.8)
show("sample size 10->12%", (za + zb) ** 2 * (0.1 * 0.9 + 0.12 * 0.88) / 0.02 ** 2)

# difference in proportions: 100/1000 control, 130/1000 routed
pc, pt = 100 / 1000, 130 / 1000
se = math.sqrt(pc * (1 - pc) / 1000 + pt * (1 - pt) / 1000)
m = cs_mult(2000, 0.05, 5000)
show("prop diff est", pt - pc)
show("prop diff se", se)
show("prop diff lower", pt - pc - m * se)
show("prop diff upper", pt - pc + m * se)

# difference in means from raw samples (Welch)
c = [1, 2, 3, 4, 5] * 20            # ratings, control: n = 100
t = [1, 2, 3, 4, 4] * 20            # routed: n = 100
se = math.sqrt(statistics.variance(c) / len(c) + statistics.variance(t) / len(t))
m = cs_mult(200, 0.05, 5000)
d = statistics.mean(t) - statistics.mean(c)
show("mean sums c (n,sum,sumsq)", (len(c), sum(c), sum(x * x for x in c)))
show("mean sums t (n,sum,sumsq)", (len(t), sum(t), sum(x * x for x in t)))
show("mean diff est", d)
show("mean diff se", se)
show("mean diff mult(200)", m)
show("mean diff lower", d - m * se)
show("mean diff upper", d + m * se)

# mSPRT: d = 0.03, se = 0.0140, tau^2 = 0.02^2
v, tau2, dd = 0.014 ** 2, 0.02 ** 2, 0.03
show("msprt lambda", math.sqrt(v / (v + tau2)) * math.exp(tau2 * dd * dd / (2 * v * (v + tau2))))

# SRM: 5000 control vs 5200 routed against 50/50; and 9000/1000 vs 0.1 expected
def srm(nc, nt, et):
    n = nc + nt
    x = (nt - n * et) ** 2 / (n * et) + (nc - n * (1 - et)) ** 2 / (n * (1 - et))
    return x, math.erfc(math.sqrt(x / 2))
show("srm(5000,5200,.5)", srm(5000, 5200, 0.5))
show("srm(9000,1100,.1)", srm(9000, 1100, 0.1))
show("expected share holdout 10%, routed 25%", (1 - 0.10) * 0.25)

# latency: control 1000 requests, 950 in bucket 10 (<= 22 ms), 50 in bucket 20
# (<= 470 ms); routed 1000, 900 in bucket 10, 100 in bucket 20. tau = bucket 10's
# bound; share above: 0.05 vs 0.10.
pc, pt = 0.05, 0.10
se = math.sqrt(pc * (1 - pc) / 1000 + pt * (1 - pt) / 1000)
m = cs_mult(2000, 0.05, 5000)
show("latency diff lower", pt - pc - m * se)
show("latency diff upper", pt - pc + m * se)

# latency bucket bounds: 1 ms * 120000^(i/38), two significant digits
def r2(x):
    e = 10 ** (math.floor(math.log10(x)) - 1)
    return int(round(x / e) * e)
show("bounds", [r2(1000 * 120000 ** (i / 38)) for i in range(39)])

# sequential SRM (Lindon & Malek 2022): Dirichlet-multinomial Bayes factor,
# prior a_i = 100 * theta_i, written with math.lgamma
def srm_log_bf(nc, nt, et, k=100.0):
    at, ac = k * et, k * (1 - et)
    return (math.lgamma(k) - math.lgamma(k + nc + nt) + math.lgamma(ac + nc) - math.lgamma(ac)
            + math.lgamma(at + nt) - math.lgamma(at) - nc * math.log(1 - et) - nt * math.log(et))
show("srm_log_bf(5000,5200,.5)", srm_log_bf(5000, 5200, 0.5))
show("srm_log_bf(9000,1100,.1)", srm_log_bf(9000, 1100, 0.1))
show("srm_log_bf(8,80,.5)", srm_log_bf(8, 80, 0.5))
show("srm(20000,22000,.5)", srm(20000, 22000, 0.5))
show("srm_log_bf(20000,22000,.5)", srm_log_bf(20000, 22000, 0.5))
show("srm(100000,101600,.5)", srm(100000, 101600, 0.5))
show("srm_log_bf(100000,101600,.5)", srm_log_bf(100000, 101600, 0.5))
show("ln(1000)", math.log(1000))
