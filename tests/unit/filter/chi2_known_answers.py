# Independent known answers for the chi-square tails (Decimal, 80 digits).
from decimal import Decimal as D, getcontext
getcontext().prec = 80
def tails(x, v):
    k = v // 2; m = D(x) / 2
    # terms m^i/i! relative, summed exactly in high precision
    t = D(1); below = D(0); i = 0
    while i < k:
        below += t; i += 1; t = t * m / i
    above = D(0)
    while True:
        above += t; i += 1; t = t * m / i
        if i > k and t < above * D(10) ** -60: break
    e = (-m).exp()
    Q = e * below; P = e * above
    return Q, P
cases = [(1e-10, 2), (3, 300), (0.5, 2000), (1999, 2000), (5000, 2000), (40000, 2000), (1400, 1400), (2, 2)]
for x, v in cases:
    Q, P = tails(x, v)
    print(f"x={x} v={v} Q={Q:.17e} P={P:.17e} lnQ={Q.ln():.17e} lnP={P.ln():.17e}")
# Fisher: n clues of f each -> 1 - I = (Q_s + P_h)/2, I = (P_s + Q_h)/2
def fisher(fs):
    ln_spam = sum((1 - D(f)).ln() for f in fs); ln_ham = sum(D(f).ln() for f in fs)
    v = 2 * len(fs)
    Qs, Ps = tails(-2 * ln_spam, v); Qh, Ph = tails(-2 * ln_ham, v)
    return (Ps + Qh) / 2, (Qs + Ph) / 2
for fs, name in [([0.999] * 200, "200 x 0.999"), ([0.001] * 200, "200 x 0.001"), ([0.9999]*2, "2 x 0.9999"), ([0.99]*30 + [0.2]*5, "30 x 0.99 + 5 x 0.2")]:
    I, C = fisher(fs)
    print(f"{name}: I={I:.17e} 1-I={C:.17e} lnI={I.ln():.17e} ln(1-I)={C.ln():.17e}")
for fs, name in [([0.0001]*2, "2 x 0.0001"), ([0.01]*30 + [0.8]*5, "30 x 0.01 + 5 x 0.8")]:
    I, C = fisher(fs)
    print(f"{name}: I={I:.17e} lnI={I.ln():.17e}")
