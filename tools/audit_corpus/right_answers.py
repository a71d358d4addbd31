"""Right answers written differently: every one must keep full marks.

Each entry replaces one solution cell of the reference: (grade_id, label, code).
They cover other algebraic forms, loops instead of vectorised code, other valid
stable formulations, keepdims versus an explicit reshape, SymPy's own diff, and
other spellings of the same value. An entry may use a name another exercise
defines (as a student would); the audit then never grades it next to a change
of that exercise.
"""

# ------------------------------------------------------------------ Part A: theory

A = [
    # A1 composition
    ("a1_composition_answer", "inner with its terms swapped",
     "inner = 3*x + x**2\nouter = sp.sin(u)"),
    ("a1_composition_answer", "inner factored",
     "inner = x*(x + 3)\nouter = sp.sin(u)"),
    ("a1_composition_answer", "inner from a completed square",
     "inner = sp.expand((x + sp.Rational(3, 2))**2 - sp.Rational(9, 4))\nouter = sp.sin(u)"),
    # A1 derivative
    ("a1_derivative_answer", "SymPy's own diff of f",
     "df_dx = sp.diff(f, x)"),
    ("a1_derivative_answer", "chain rule assembled with diff and subs",
     "df_dx = sp.diff(outer, u).subs(u, inner) * sp.diff(inner, x)"),
    ("a1_derivative_answer", "product expanded",
     "df_dx = 2*x*sp.cos(x**2 + 3*x) + 3*sp.cos(x**2 + 3*x)"),
    ("a1_derivative_answer", "cos written as a shifted sin",
     "df_dx = (2*x + 3) * sp.sin(x**2 + 3*x + sp.pi/2)"),
    # A1 values
    ("a1_values_answer", "NumPy throughout",
     "df_dx_at_1 = float(5.0 * np.cos(4.0))\n"
     "h = 1e-3\n"
     "df_dx_numeric_at_1 = float((np.sin((1 + h)**2 + 3*(1 + h)) - np.sin((1 - h)**2 + 3*(1 - h))) / (2*h))"),
    ("a1_values_answer", "evalf, and an exact rational step in SymPy",
     "df_dx_at_1 = float(df_dx.evalf(subs={x: 1}))\n"
     "step = sp.Rational(1, 1000)\n"
     "df_dx_numeric_at_1 = float((f.subs(x, 1 + step) - f.subs(x, 1 - step)) / (2*step))"),
    ("a1_values_answer", "a helper function and decimal literals",
     "def f_at(t):\n"
     "    return float(f.subs(x, t))\n\n"
     "df_dx_at_1 = float(sp.N(df_dx.subs(x, 1), 20))\n"
     "df_dx_numeric_at_1 = (f_at(1.001) - f_at(0.999)) / 0.002"),
    # A2 gradients
    ("a2_gradients_answer", "SymPy's diff of the loss",
     "loss = (sigmoid(w*x + b) - y)**2\ndL_dw = sp.diff(loss, w)\ndL_db = sp.diff(loss, b)"),
    ("a2_gradients_answer", "sigma(z) sigma(-z) form",
     "zz = w*x + b\n"
     "dL_dw = 2*(sigmoid(zz) - y) * sigmoid(zz) * sigmoid(-zz) * x\n"
     "dL_db = 2*(sigmoid(zz) - y) * sigmoid(zz) * sigmoid(-zz)"),
    ("a2_gradients_answer", "exponential form",
     "ee = sp.exp(-(w*x + b))\n"
     "dL_dw = 2*(1/(1 + ee) - y) * ee / (1 + ee)**2 * x\n"
     "dL_db = 2*(1/(1 + ee) - y) * ee / (1 + ee)**2"),
    # A2 sigma prime
    ("a2_sigma_prime_answer", "SymPy's diff of the given sigmoid",
     "sigma_prime = sp.diff(sigmoid(z), z)\nsigma_prime_at_10 = float(sigma_prime.subs(z, 10))"),
    ("a2_sigma_prime_answer", "exponential form, value with NumPy",
     "sigma_prime = sp.exp(-z) / (1 + sp.exp(-z))**2\n"
     "sigma_prime_at_10 = float(np.exp(-10.0) / (1 + np.exp(-10.0))**2)"),
    ("a2_sigma_prime_answer", "sigma(z) sigma(-z), value with N",
     "sigma_prime = sigmoid(z) * sigmoid(-z)\nsigma_prime_at_10 = float(sp.N(sigma_prime.subs(z, 10)))"),
    # A3 symbolic
    ("a3_symbolic_answer", "expanded",
     "dyk_dzk = yhat_k - yhat_k**2\ndyk_dzi = -yhat_i*yhat_k"),
    ("a3_symbolic_answer", "sp.expand and sp.Mul",
     "dyk_dzk = sp.expand(yhat_k*(1 - yhat_k))\ndyk_dzi = sp.Mul(-1, yhat_k, yhat_i)"),
    ("a3_symbolic_answer", "signs moved",
     "dyk_dzk = -yhat_k*(yhat_k - 1)\ndyk_dzi = -(yhat_k*yhat_i)"),
    # A3 Jacobian
    ("a3_jacobian_answer", "broadcasting instead of diag and outer",
     "def softmax_jacobian(z):\n"
     "    z = np.asarray(z, dtype=float)\n"
     "    s = np.exp(z - z.max())\n"
     "    s /= s.sum()\n"
     "    return s[:, None] * (np.eye(len(s)) - s[None, :])"),
    ("a3_jacobian_answer", "loops over k and i",
     "def softmax_jacobian(z):\n"
     "    K = len(z)\n"
     "    top = max(z)\n"
     "    e = [np.exp(v - top) for v in z]\n"
     "    total = sum(e)\n"
     "    s = [v / total for v in e]\n"
     "    J = np.zeros((K, K))\n"
     "    for k in range(K):\n"
     "        for i in range(K):\n"
     "            J[k, i] = s[k] * (1 - s[k]) if k == i else -s[k] * s[i]\n"
     "    return J"),
    ("a3_jacobian_answer", "log-sum-exp",
     "def softmax_jacobian(z):\n"
     "    z = np.array(z, dtype=float)\n"
     "    m = np.max(z)\n"
     "    s = np.exp(z - (m + np.log(np.sum(np.exp(z - m)))))\n"
     "    return np.diag(s) - np.outer(s, s)"),
    # A4 symbolic
    ("a4_symbolic_answer", "terms swapped", "dL_dz_i = -y_i + yhat_i"),
    ("a4_symbolic_answer", "minus a difference", "dL_dz_i = -(y_i - yhat_i)"),
    # A4 function
    ("a4_grad_answer", "loops",
     "def ce_softmax_grad(z, y):\n"
     "    top = max(z)\n"
     "    e = [np.exp(v - top) for v in z]\n"
     "    total = sum(e)\n"
     "    return np.array([e[i] / total - y[i] for i in range(len(z))])"),
    ("a4_grad_answer", "log-sum-exp",
     "def ce_softmax_grad(z, y):\n"
     "    z = np.asarray(z, dtype=float)\n"
     "    lse = np.max(z) + np.log(np.sum(np.exp(z - np.max(z))))\n"
     "    return np.exp(z - lse) - y"),
    ("a4_grad_answer", "chain rule through A3's Jacobian",
     "def ce_softmax_grad(z, y):\n"
     "    z, y = np.asarray(z, dtype=float), np.asarray(y, dtype=float)\n"
     "    s = np.exp(z - z.max())\n"
     "    s = s / s.sum()\n"
     "    return softmax_jacobian(z).T @ (-y / s)"),
    # A5
    ("a5_answer", "np.where",
     "def backprop_delta(W_next, delta_next, z):\n"
     "    return np.where(z > 0, W_next.T @ delta_next, 0.0)"),
    ("a5_answer", "loops over units and examples",
     "def backprop_delta(W_next, delta_next, z):\n"
     "    n_next, n_l = W_next.shape\n"
     "    m = delta_next.shape[1]\n"
     "    out = np.zeros((n_l, m))\n"
     "    for i in range(n_l):\n"
     "        for j in range(m):\n"
     "            if z[i, j] > 0:\n"
     "                out[i, j] = sum(W_next[k, i] * delta_next[k, j] for k in range(n_next))\n"
     "    return out"),
    ("a5_answer", "np.dot and heaviside",
     "def backprop_delta(W_next, delta_next, z):\n"
     "    return np.dot(W_next.T, delta_next) * np.heaviside(z, 0.0)"),
    ("a5_answer", "einsum",
     "def backprop_delta(W_next, delta_next, z):\n"
     "    return np.einsum('ki,kj->ij', W_next, delta_next) * (z > 0).astype(float)"),
    # A6
    ("a6_answer", "a loop for the product",
     "sigmoid_prime_max = 1 / 4\n\n\n"
     "def vanishing_bound(L):\n"
     "    bound = 1.0\n"
     "    for _ in range(L - 1):\n"
     "        bound *= sigmoid_prime_max\n"
     "    return bound\n\n\n"
     "bound_L50 = vanishing_bound(50)"),
    ("a6_answer", "powers of four",
     "sigmoid_prime_max = 0.25\n\n\n"
     "def vanishing_bound(L):\n"
     "    return 4.0 ** (1 - L)\n\n\n"
     "bound_L50 = float(4.0 ** -49)"),
    ("a6_answer", "the maximum taken from A2's sigma_prime",
     "sigmoid_prime_max = float(sigma_prime.subs(z, 0))\n\n\n"
     "def vanishing_bound(L):\n"
     "    return sigmoid_prime_max ** (L - 1)\n\n\n"
     "bound_L50 = vanishing_bound(50)"),
    # A7 entropy
    ("a7_entropy_answer", "minus a sum", "binary_entropy = -(p*sp.log(p) + (1 - p)*sp.log(1 - p))"),
    ("a7_entropy_answer", "logs of reciprocals", "binary_entropy = p*sp.log(1/p) + (1 - p)*sp.log(1/(1 - p))"),
    ("a7_entropy_answer", "one logarithm of a product, expanded by SymPy",
     "binary_entropy = sp.expand_log(-sp.log(p**p * (1 - p)**(1 - p)), force=True)"),
    # A7 maxima
    ("a7_maxima_answer", "exact values written down",
     "p_max_sigma_prime = sp.Rational(1, 2)\np_max_entropy = sp.Rational(1, 2)\nmax_entropy = sp.log(2)"),
    ("a7_maxima_answer", "solveset, entropy not simplified",
     "p_max_sigma_prime = list(sp.solveset(sp.diff(p*(1 - p), p), p))[0]\n"
     "p_max_entropy = list(sp.solveset(sp.diff(binary_entropy, p), p, sp.Interval.open(0, 1)))[0]\n"
     "max_entropy = binary_entropy.subs(p, p_max_entropy)"),
    ("a7_maxima_answer", "a float that is exactly one half, log of a half",
     "p_max_sigma_prime = 0.5\np_max_entropy = 1/2\nmax_entropy = -sp.log(sp.Rational(1, 2))"),
]

# ------------------------------------------------------------------ Part B: coding

TENSOR_KAHN = '''class Tensor:
    """An array that records how it was computed (Kahn's algorithm for the order)."""

    def __init__(self, data, _parents=()):
        self.data = np.array(data, dtype=float)
        self.grad = np.zeros_like(self.data)
        self._parents = tuple(_parents)
        self._backward = lambda: None

    def __repr__(self):
        return f"Tensor({self.data}, grad={self.grad})"

    @staticmethod
    def _lift(value):
        if isinstance(value, Tensor):
            return value
        return Tensor(value)

    @staticmethod
    def _unbroadcast(grad, shape):
        grad = np.asarray(grad, dtype=float)
        extra = grad.ndim - len(shape)
        if extra > 0:
            grad = grad.sum(axis=tuple(range(extra)))
        stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
        if stretched:
            grad = grad.sum(axis=stretched, keepdims=True)
        return grad.reshape(shape)

    def __add__(self, other):
        other = Tensor._lift(other)
        out = Tensor(self.data + other.data, (self, other))

        def _backward():
            self.grad = self.grad + Tensor._unbroadcast(out.grad, self.data.shape)
            other.grad = other.grad + Tensor._unbroadcast(out.grad, other.data.shape)
        out._backward = _backward
        return out

    def __sub__(self, other):
        other = Tensor._lift(other)
        out = Tensor(self.data - other.data, (self, other))

        def _backward():
            self.grad = self.grad + Tensor._unbroadcast(out.grad, self.data.shape)
            other.grad = other.grad - Tensor._unbroadcast(out.grad, other.data.shape)
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = Tensor._lift(other)
        out = Tensor(self.data * other.data, (self, other))

        def _backward():
            self.grad = self.grad + Tensor._unbroadcast(other.data * out.grad, self.data.shape)
            other.grad = other.grad + Tensor._unbroadcast(self.data * out.grad, other.data.shape)
        out._backward = _backward
        return out

    def __pow__(self, n):
        if not isinstance(n, (int, float)):
            raise TypeError("the exponent must be a number")
        out = Tensor(self.data ** n, (self,))

        def _backward():
            self.grad = self.grad + n * self.data ** (n - 1) * out.grad
        out._backward = _backward
        return out

    def __neg__(self):
        out = Tensor(-self.data, (self,))

        def _backward():
            self.grad = self.grad - out.grad
        out._backward = _backward
        return out

    def __radd__(self, other):
        return self + other

    def __rsub__(self, other):
        return Tensor._lift(other) - self

    def __rmul__(self, other):
        return self * other

    def relu(self):
        out = Tensor(np.where(self.data > 0, self.data, 0.0), (self,))

        def _backward():
            self.grad = self.grad + np.where(self.data > 0, out.grad, 0.0)
        out._backward = _backward
        return out

    def sigmoid(self):
        s = 0.5 * (1.0 + np.tanh(0.5 * self.data))
        out = Tensor(s, (self,))

        def _backward():
            self.grad = self.grad + s * (1.0 - s) * out.grad
        out._backward = _backward
        return out

    def sum(self):
        out = Tensor(self.data.sum(), (self,))

        def _backward():
            self.grad = self.grad + np.broadcast_to(out.grad, self.data.shape)
        out._backward = _backward
        return out

    def zero_grad(self):
        self.grad = np.zeros_like(self.data)

    def backward(self):
        nodes, stack, seen = [], [self], set()
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            nodes.append(node)
            stack.extend(node._parents)
        users = {id(node): 0 for node in nodes}
        for node in nodes:
            for parent in node._parents:
                users[id(parent)] += 1
        for node in nodes:
            if node._parents:
                node.grad = np.zeros_like(node.data)
        self.grad = self.grad + np.ones_like(self.data)
        ready = [self]
        while ready:
            node = ready.pop()
            node._backward()
            for parent in node._parents:
                users[id(parent)] -= 1
                if users[id(parent)] == 0:
                    ready.append(parent)
'''

TENSOR_CREATION_ORDER = '''import itertools

_creation = itertools.count()


class Tensor:
    """Each op is described by one local-gradient function per parent; backward() visits the
    nodes newest first, which is a topological order (a result is created after its inputs)."""

    def __init__(self, data, _parents=()):
        self.data = np.array(data, dtype=float)
        self.grad = np.zeros_like(self.data)
        self._parents = tuple(_parents)
        self._backward = lambda: None
        self._born = next(_creation)

    def __repr__(self):
        return f"Tensor({self.data}, grad={self.grad})"

    @staticmethod
    def _lift(value):
        return value if isinstance(value, Tensor) else Tensor(value)

    @staticmethod
    def _unbroadcast(grad, shape):
        grad = np.array(grad, dtype=float)
        while grad.ndim > len(shape):
            grad = grad.sum(axis=0)
        for axis in range(len(shape)):
            if shape[axis] == 1 and grad.shape[axis] > 1:
                grad = grad.sum(axis=axis, keepdims=True)
        return grad

    def _op(self, data, parents, locals_):
        out = Tensor(data, parents)

        def _backward():
            for parent, local in zip(parents, locals_):
                parent.grad += Tensor._unbroadcast(local(out.grad), parent.data.shape)
        out._backward = _backward
        return out

    def __add__(self, other):
        other = Tensor._lift(other)
        return self._op(self.data + other.data, (self, other), (lambda g: g, lambda g: g))

    def __mul__(self, other):
        other = Tensor._lift(other)
        return self._op(self.data * other.data, (self, other),
                        (lambda g: other.data * g, lambda g: self.data * g))

    def __pow__(self, n):
        if not isinstance(n, (int, float)):
            raise TypeError("the exponent must be a number")
        return self._op(self.data ** n, (self,), (lambda g: n * self.data ** (n - 1) * g,))

    def __neg__(self):
        return self._op(-self.data, (self,), (lambda g: -g,))

    def __sub__(self, other):
        return self + (-Tensor._lift(other))

    def __radd__(self, other):
        return self + other

    def __rsub__(self, other):
        return (-self) + other

    def __rmul__(self, other):
        return self * other

    def relu(self):
        mask = (self.data > 0).astype(float)
        return self._op(self.data * mask, (self,), (lambda g: mask * g,))

    def sigmoid(self):
        e = np.exp(-np.abs(self.data))
        s = np.where(self.data >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return self._op(s, (self,), (lambda g: s * (1.0 - s) * g,))

    def sum(self):
        return self._op(np.sum(self.data), (self,), (lambda g: g * np.ones_like(self.data),))

    def zero_grad(self):
        self.grad = np.zeros(self.data.shape)

    def backward(self):
        nodes, todo = {}, [self]
        while todo:
            node = todo.pop()
            if id(node) not in nodes:
                nodes[id(node)] = node
                todo.extend(node._parents)
        order = sorted(nodes.values(), key=lambda node: node._born, reverse=True)
        for node in order:
            if node._parents:
                node.grad = np.zeros_like(node.data)
        self.grad = self.grad + 1.0
        for node in order:
            node._backward()
'''

TENSOR_RECURSIVE_SET = '''class Tensor:
    """Depth-first topological order kept in a list, visited set of nodes (identity hashing)."""

    def __init__(self, data, _parents=()):
        self.data = np.array(data, dtype=float)
        self.grad = np.zeros_like(self.data)
        self._parents = tuple(_parents)
        self._backward = lambda: None

    def __repr__(self):
        return f"Tensor({self.data}, grad={self.grad})"

    @staticmethod
    def _lift(value):
        if not isinstance(value, Tensor):
            value = Tensor(np.asarray(value, dtype=float))
        return value

    @staticmethod
    def _unbroadcast(grad, shape):
        grad = np.asarray(grad, dtype=float)
        lead = grad.ndim - len(shape)
        axes = list(range(lead)) + [lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1]
        return np.sum(grad, axis=tuple(axes)).reshape(shape) if axes else grad

    def __add__(self, other):
        other = Tensor._lift(other)
        out = Tensor(self.data + other.data, (self, other))

        def _backward():
            self.grad += Tensor._unbroadcast(out.grad, self.data.shape)
            other.grad += Tensor._unbroadcast(out.grad, other.data.shape)
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = Tensor._lift(other)
        out = Tensor(self.data * other.data, (self, other))

        def _backward():
            self.grad += Tensor._unbroadcast(out.grad * other.data, self.data.shape)
            other.grad += Tensor._unbroadcast(out.grad * self.data, other.data.shape)
        out._backward = _backward
        return out

    def __pow__(self, n):
        if not isinstance(n, (int, float)):
            raise TypeError("the exponent must be a number")
        out = Tensor(np.power(self.data, n), (self,))

        def _backward():
            self.grad += out.grad * n * np.power(self.data, n - 1)
        out._backward = _backward
        return out

    def __neg__(self):
        return -1.0 * self

    def __sub__(self, other):
        return self + (-1.0) * Tensor._lift(other)

    def __radd__(self, other):
        return self.__add__(other)

    def __rsub__(self, other):
        return Tensor._lift(other).__sub__(self)

    def __rmul__(self, other):
        return self.__mul__(other)

    def relu(self):
        out = Tensor(np.maximum(self.data, 0.0), (self,))

        def _backward():
            self.grad += out.grad * (self.data > 0).astype(float)
        out._backward = _backward
        return out

    def sigmoid(self):
        s = np.exp(-np.logaddexp(0.0, -self.data))
        out = Tensor(s, (self,))

        def _backward():
            self.grad += out.grad * s * (1.0 - s)
        out._backward = _backward
        return out

    def sum(self):
        out = Tensor(self.data.sum(), (self,))

        def _backward():
            self.grad += np.full(self.data.shape, float(out.grad))
        out._backward = _backward
        return out

    def zero_grad(self):
        self.grad = np.zeros_like(self.data)

    def backward(self):
        topo, visited = [], set()

        def build(node):
            if node in visited:
                return
            visited.add(node)
            for parent in node._parents:
                build(parent)
            topo.append(node)
        build(self)
        for node in topo:
            if node is not self and node._parents:
                node.grad = np.zeros_like(node.data)
        if self._parents:
            self.grad = np.zeros_like(self.data)
        self.grad += np.ones_like(self.data)
        for node in topo[::-1]:
            node._backward()
'''

B = [
    # B1 sigmoid (and its derivative)
    ("b1_sigmoid_answer", "tanh form",
     "def sigmoid(z):\n"
     "    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))\n\n\n"
     "def sigmoid_derivative(z):\n"
     "    s = sigmoid(z)\n"
     "    return s * (1 - s)"),
    ("b1_sigmoid_answer", "clipped exponent (the seed's form), even derivative",
     "def sigmoid(z):\n"
     "    return 1 / (1 + np.exp(-np.clip(z, -500, 500)))\n\n\n"
     "def sigmoid_derivative(z):\n"
     "    e = np.exp(-np.abs(np.asarray(z, dtype=float)))\n"
     "    return e / (1 + e) ** 2"),
    ("b1_sigmoid_answer", "boolean masks, one branch per sign",
     "def sigmoid(z):\n"
     "    z = np.asarray(z, dtype=float)\n"
     "    out = np.empty_like(z)\n"
     "    pos = z >= 0\n"
     "    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))\n"
     "    ez = np.exp(z[~pos])\n"
     "    out[~pos] = ez / (1.0 + ez)\n"
     "    return out\n\n\n"
     "def sigmoid_derivative(z):\n"
     "    return sigmoid(z) * sigmoid(-np.asarray(z, dtype=float))"),
    ("b1_sigmoid_answer", "logaddexp",
     "def sigmoid(z):\n"
     "    return np.exp(-np.logaddexp(0.0, -np.asarray(z, dtype=float)))\n\n\n"
     "def sigmoid_derivative(z):\n"
     "    return np.exp(-np.logaddexp(0.0, -z) - np.logaddexp(0.0, z))"),
    # B1 numerical derivative
    ("b1_numerical_answer", "step named h, denominator h + h",
     "def numerical_derivative(f, x, eps=1e-5):\n"
     "    h = eps\n"
     "    return (f(x + h) - f(x - h)) / (h + h)"),
    ("b1_numerical_answer", "divided twice",
     "def numerical_derivative(f, x, eps=1e-5):\n"
     "    return (f(x + eps) - f(x - eps)) / 2 / eps"),
    ("b1_numerical_answer", "mean of the forward and backward quotients",
     "def numerical_derivative(f, x, eps=1e-5):\n"
     "    forward = (f(x + eps) - f(x)) / eps\n"
     "    backward = (f(x) - f(x - eps)) / eps\n"
     "    return 0.5 * (forward + backward)"),
    # B1 relative error
    ("b1_relerr_answer", "a loop over broadcast entries",
     "def relative_error(a, b):\n"
     "    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))\n"
     "    worst = 0.0\n"
     "    for ai, bi in zip(a.ravel(), b.ravel()):\n"
     "        worst = max(worst, abs(ai - bi) / max(abs(ai) + abs(bi), 1e-12))\n"
     "    return float(worst)"),
    ("b1_relerr_answer", "fmax and .max()",
     "def relative_error(a, b):\n"
     "    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)\n"
     "    return float((np.abs(a - b) / np.fmax(np.abs(a) + np.abs(b), 1e-12)).max())"),
    # B1 neuron
    ("b1_neuron_answer", "one line with sigmoid",
     "def neuron_grad_w(w, x, y):\n"
     "    s = sigmoid(w * x)\n"
     "    return 2 * (s - y) * s * (1 - s) * x"),
    ("b1_neuron_answer", "with sigmoid_derivative",
     "def neuron_grad_w(w, x, y):\n"
     "    return 2 * (sigmoid(w * x) - y) * sigmoid_derivative(w * x) * x"),
    # B2 activations
    ("b2_activations_answer", "np.where, and an explicit reshape in softmax",
     "def relu(z):\n"
     "    return np.where(z > 0, z, 0.0)\n\n\n"
     "def relu_derivative(z):\n"
     "    return np.where(np.asarray(z) > 0, 1.0, 0.0)\n\n\n"
     "def softmax(z):\n"
     "    z = np.asarray(z, dtype=float)\n"
     "    e = np.exp(z - z.max(axis=0).reshape(1, -1))\n"
     "    return e / e.sum(axis=0).reshape(1, -1)"),
    ("b2_activations_answer", "a loop over the columns",
     "def relu(z):\n"
     "    return z * (z > 0)\n\n\n"
     "def relu_derivative(z):\n"
     "    return np.heaviside(z, 0.0)\n\n\n"
     "def softmax(z):\n"
     "    z = np.asarray(z, dtype=float)\n"
     "    out = np.empty_like(z)\n"
     "    for j in range(z.shape[1]):\n"
     "        col = np.exp(z[:, j] - z[:, j].max())\n"
     "        out[:, j] = col / col.sum()\n"
     "    return out"),
    ("b2_activations_answer", "log-sum-exp softmax, None indexing",
     "def relu(z):\n"
     "    return np.maximum(z, 0)\n\n\n"
     "def relu_derivative(z):\n"
     "    return 1.0 * (np.asarray(z) > 0)\n\n\n"
     "def softmax(z):\n"
     "    top = np.max(z, axis=0)[None, :]\n"
     "    lse = top + np.log(np.sum(np.exp(z - top), axis=0))[None, :]\n"
     "    return np.exp(z - lse)"),
    # B2 backward pass
    ("b2_backward_answer", "reshape instead of keepdims, factor 1/m first",
     "def backward_pass(X, y, W1, b1, W2, b2, z1, a1, z2, a2):\n"
     "    m = X.shape[1]\n"
     "    dz2 = a2 - y\n"
     "    dW2 = (1.0 / m) * np.dot(dz2, a1.T)\n"
     "    db2 = (1.0 / m) * dz2.sum(axis=1).reshape(-1, 1)\n"
     "    dz1 = np.dot(W2.T, dz2) * relu_derivative(z1)\n"
     "    dW1 = (1.0 / m) * np.dot(dz1, X.T)\n"
     "    db1 = (1.0 / m) * dz1.sum(axis=1).reshape(-1, 1)\n"
     "    return dW1, db1, dW2, db2"),
    ("b2_backward_answer", "a loop over the examples",
     "def backward_pass(X, y, W1, b1, W2, b2, z1, a1, z2, a2):\n"
     "    m = X.shape[1]\n"
     "    dW1, db1 = np.zeros_like(W1), np.zeros_like(b1)\n"
     "    dW2, db2 = np.zeros_like(W2), np.zeros_like(b2)\n"
     "    for j in range(m):\n"
     "        dz2 = (a2[:, j] - y[:, j]).reshape(-1, 1)\n"
     "        dW2 += dz2 @ a1[:, j].reshape(1, -1)\n"
     "        db2 += dz2\n"
     "        dz1 = (W2.T @ dz2) * (z1[:, j].reshape(-1, 1) > 0)\n"
     "        dW1 += dz1 @ X[:, j].reshape(1, -1)\n"
     "        db1 += dz1\n"
     "    return dW1 / m, db1 / m, dW2 / m, db2 / m"),
    ("b2_backward_answer", "einsum and a mean",
     "def backward_pass(X, y, W1, b1, W2, b2, z1, a1, z2, a2):\n"
     "    m = X.shape[1]\n"
     "    dz2 = a2 - y\n"
     "    dz1 = np.einsum('kh,km->hm', W2, dz2) * (z1 > 0)\n"
     "    return (np.einsum('hm,nm->hn', dz1, X) / m, dz1.mean(axis=1, keepdims=True),\n"
     "            np.einsum('km,hm->kh', dz2, a1) / m, dz2.mean(axis=1, keepdims=True))"),
    # B3 numerical gradient
    ("b3_numerical_answer", "np.nditer with multi_index",
     "def numerical_gradient(f, param, eps=1e-5):\n"
     "    grad = np.zeros(param.shape)\n"
     "    it = np.nditer(param, flags=['multi_index'])\n"
     "    while not it.finished:\n"
     "        ix = it.multi_index\n"
     "        old = param[ix]\n"
     "        param[ix] = old + eps\n"
     "        fp = f(param)\n"
     "        param[ix] = old - eps\n"
     "        fm = f(param)\n"
     "        param[ix] = old\n"
     "        grad[ix] = (fp - fm) / (2 * eps)\n"
     "        it.iternext()\n"
     "    return grad"),
    ("b3_numerical_answer", "itertools.product and try/finally",
     "import itertools\n\n\n"
     "def numerical_gradient(f, param, eps=1e-5):\n"
     "    grad = np.zeros_like(param, dtype=float)\n"
     "    for idx in itertools.product(*[range(n) for n in param.shape]):\n"
     "        saved = param[idx]\n"
     "        try:\n"
     "            param[idx] = saved + eps\n"
     "            up = float(f(param))\n"
     "            param[idx] = saved - eps\n"
     "            down = float(f(param))\n"
     "        finally:\n"
     "            param[idx] = saved\n"
     "        grad[idx] = (up - down) / (2 * eps)\n"
     "    return grad"),
    ("b3_numerical_answer", "a flat loop with unravel_index",
     "def numerical_gradient(f, param, eps=1e-5):\n"
     "    grad = np.zeros(param.shape, dtype=float)\n"
     "    for flat in range(param.size):\n"
     "        i = np.unravel_index(flat, param.shape)\n"
     "        keep = param[i].copy()\n"
     "        param[i] = keep + eps\n"
     "        plus = f(param)\n"
     "        param[i] = keep - eps\n"
     "        minus = f(param)\n"
     "        param[i] = keep\n"
     "        grad[i] = (plus - minus) / (2 * eps)\n"
     "    return grad"),
    # B3 gradient check
    ("b3_check_answer", "keys listed, max of a list",
     "def gradient_check(net, X, y, eps=1e-5):\n"
     "    grads = net.gradients(X, y)\n"
     "    errors = []\n"
     "    for key in ['W1', 'b1', 'W2', 'b2']:\n"
     "        num = numerical_gradient(lambda p: net.loss(X, y), net.params[key], eps)\n"
     "        errors.append(relative_error(grads[key], num))\n"
     "    return max(errors)"),
    ("b3_check_answer", "numerical first, relative error inline",
     "def gradient_check(net, X, y, eps=1e-5):\n"
     "    numerical = {name: numerical_gradient(lambda _: net.loss(X, y), param, eps)\n"
     "                 for name, param in net.params.items()}\n"
     "    analytical = net.gradients(X, y)\n"
     "    worst = 0.0\n"
     "    for name in numerical:\n"
     "        a, n = analytical[name], numerical[name]\n"
     "        worst = max(worst, float(np.max(np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), 1e-12))))\n"
     "    return worst"),
    # B4 autograd
    ("b4_tensor_answer", "Kahn's algorithm, x = x + g, own __sub__ and __neg__", TENSOR_KAHN),
    ("b4_tensor_answer", "newest-first order by creation counter, one local gradient per parent",
     TENSOR_CREATION_ORDER),
    ("b4_tensor_answer", "recursive order with a set of nodes, tuple-axis unbroadcast", TENSOR_RECURSIVE_SET),
    # B5 gradient flow
    ("b5_flow_answer", "index loops, rng.normal with the He scale, derivative helpers",
     "def analyze_gradient_flow(layer_sizes, activation='relu', n_samples=100, seed=42):\n"
     "    rng = np.random.default_rng(seed)\n"
     "    L = len(layer_sizes) - 1\n"
     "    W = [rng.normal(0.0, np.sqrt(2 / layer_sizes[l]), (layer_sizes[l + 1], layer_sizes[l])) for l in range(L)]\n"
     "    a = rng.standard_normal((layer_sizes[0], n_samples))\n"
     "    zs = []\n"
     "    for l in range(L - 1):\n"
     "        zs.append(W[l] @ a)\n"
     "        a = relu(zs[-1]) if activation == 'relu' else sigmoid(zs[-1])\n"
     "    delta = np.ones((layer_sizes[-1], n_samples))\n"
     "    means = [1.0]\n"
     "    for l in range(L - 1, 0, -1):\n"
     "        slope = relu_derivative(zs[l - 1]) if activation == 'relu' else sigmoid_derivative(zs[l - 1])\n"
     "        delta = (W[l].T @ delta) * slope\n"
     "        means.append(float(np.abs(delta).mean()))\n"
     "    return means[::-1]"),
    ("b5_flow_answer", "its own activations, a list reversed at the end",
     "def analyze_gradient_flow(layer_sizes, activation='relu', n_samples=100, seed=42):\n"
     "    rng = np.random.default_rng(seed)\n"
     "    weights = []\n"
     "    for n_in, n_out in zip(layer_sizes, layer_sizes[1:]):\n"
     "        weights.append(rng.standard_normal((n_out, n_in)) * (2.0 / n_in) ** 0.5)\n"
     "    a = rng.standard_normal((layer_sizes[0], n_samples))\n"
     "    slopes = []\n"
     "    for W in weights[:-1]:\n"
     "        z = W @ a\n"
     "        if activation == 'relu':\n"
     "            a = np.maximum(z, 0.0)\n"
     "            slopes.append((z > 0) * 1.0)\n"
     "        else:\n"
     "            a = 0.5 * (1.0 + np.tanh(0.5 * z))\n"
     "            slopes.append(a * (1.0 - a))\n"
     "    delta = np.ones((layer_sizes[-1], n_samples))\n"
     "    out = [float(np.mean(np.abs(delta)))]\n"
     "    for W, slope in zip(reversed(weights[1:]), reversed(slopes)):\n"
     "        delta = (W.T @ delta) * slope\n"
     "        out.append(float(np.mean(np.abs(delta))))\n"
     "    out.reverse()\n"
     "    return out"),
    # B5 plot
    ("b5_plot_answer", "plt.figure, add_subplot and semilogy",
     "def plot_gradient_flow(results):\n"
     "    fig = plt.figure(figsize=(10, 4))\n"
     "    left = fig.add_subplot(1, 2, 1)\n"
     "    right = fig.add_subplot(1, 2, 2)\n"
     "    for name, values in results.items():\n"
     "        layers = range(1, len(values) + 1)\n"
     "        left.plot(layers, values, 'o-', label=name)\n"
     "        right.semilogy(layers, values, 's--', label=name)\n"
     "    for ax in (left, right):\n"
     "        ax.set_xlabel('layer')\n"
     "        ax.set_ylabel('mean |delta|')\n"
     "        ax.legend()\n"
     "    return fig"),
    ("b5_plot_answer", "subplots with set_yscale on the second panel, labels via set()",
     "def plot_gradient_flow(results):\n"
     "    fig, axes = plt.subplots(1, 2)\n"
     "    for k, ax in enumerate(axes):\n"
     "        for name in results:\n"
     "            ax.plot(np.arange(1, len(results[name]) + 1), np.asarray(results[name]), label=name)\n"
     "        ax.set(xlabel='layer l', ylabel='mean absolute delta')\n"
     "        if k == 1:\n"
     "            ax.set_yscale('log')\n"
     "        ax.legend(loc='best')\n"
     "    return fig"),
    ("b6_train_answer", "in-place updates over items()",
     "def train(net, X, y, learning_rate=1.0, epochs=40):\n"
     "    history = []\n"
     "    for step in range(epochs):\n"
     "        history.append(float(net.loss(X, y)))\n"
     "        for name, gradient in net.gradients(X, y).items():\n"
     "            net.params[name] -= learning_rate * gradient\n"
     "    return history"),
    ("b6_train_answer", "a while loop, the update as a new dict",
     "def train(net, X, y, learning_rate=1.0, epochs=40):\n"
     "    losses, step = [], 0\n"
     "    while step < epochs:\n"
     "        losses.append(net.loss(X, y) * 1.0)\n"
     "        grads = net.gradients(X, y)\n"
     "        net.params = {k: v - learning_rate * grads[k] for k, v in net.params.items()}\n"
     "        step += 1\n"
     "    return [float(v) for v in losses]"),
]

# ------------------------------------------------------------------ Part C: conceptual

C = [
    ("c1_forward_answer", "the argument itself",
     "def forward_mode_passes(n_inputs, n_outputs):\n    return n_inputs"),
    ("c1_forward_answer", "columns of the Jacobian",
     "def forward_mode_passes(n_inputs, n_outputs):\n"
     "    jacobian_shape = (n_outputs, n_inputs)\n"
     "    return jacobian_shape[1]"),
    ("c1_reverse_answer", "the argument itself",
     "def reverse_mode_passes(n_inputs, n_outputs):\n    return n_outputs"),
    ("c1_reverse_answer", "rows of the Jacobian",
     "def reverse_mode_passes(n_inputs, n_outputs):\n"
     "    rows, columns = n_outputs, n_inputs\n"
     "    return rows"),
    ("c2_batch_normalize_answer", "explicit sums",
     "def batch_normalize(Z, eps=1e-5):\n"
     "    Z = np.asarray(Z, dtype=float)\n"
     "    m = Z.shape[1]\n"
     "    mu = Z.sum(axis=1, keepdims=True) / m\n"
     "    var = ((Z - mu) ** 2).sum(axis=1, keepdims=True) / m\n"
     "    return (Z - mu) / np.sqrt(var + eps)"),
    ("c2_batch_normalize_answer", "a loop over the features",
     "def batch_normalize(Z, eps=1e-5):\n"
     "    Z = np.array(Z, dtype=float)\n"
     "    out = np.empty_like(Z)\n"
     "    for k in range(Z.shape[0]):\n"
     "        row = Z[k]\n"
     "        out[k] = (row - row.mean()) / np.sqrt(row.var() + eps)\n"
     "    return out"),
    ("c2_batch_normalize_answer", "eps outside the root, [:, None]",
     "def batch_normalize(Z, eps=1e-5):\n"
     "    Z = np.asarray(Z, dtype=float)\n"
     "    return (Z - Z.mean(axis=1)[:, None]) / (Z.std(axis=1)[:, None] + eps)"),
    ("c2_mean_sigmoid_grad_answer", "tanh form",
     "def mean_sigmoid_grad(Z):\n"
     "    s = 0.5 * (1 + np.tanh(0.5 * np.asarray(Z, dtype=float)))\n"
     "    return float((s * (1 - s)).mean())"),
    ("c2_mean_sigmoid_grad_answer", "even function of |z|",
     "def mean_sigmoid_grad(Z):\n"
     "    e = np.exp(-np.abs(np.asarray(Z, dtype=float)))\n"
     "    return float(np.mean(e / (1 + e) ** 2))"),
    ("c2_effect_answer", "an intermediate name",
     "Z_normalised = batch_normalize(Z_bad)\n"
     "sigma_grad_before = float(mean_sigmoid_grad(Z_bad))\n"
     "sigma_grad_after = float(mean_sigmoid_grad(Z_normalised))\n"
     "print(f\"mean sigma' before: {sigma_grad_before:.4f}, after batch norm: {sigma_grad_after:.4f}\")"),
    ("c3_answer", "letters run together", 'C3_true_statements = "BCEFH"'),
    ("c3_answer", "a list", 'C3_true_statements = ["B", "C", "E", "F", "H"]'),
    ("c3_answer", "a set of lower-case letters in another order", 'C3_true_statements = {"h", "f", "e", "c", "b"}'),
    ("c3_answer", "lower case with commas", 'C3_true_statements = "b, c, e, f, h"'),
    ("c4_gaussian_nll_answer", "log sigma split off",
     "def gaussian_nll(y, yhat, sigma=1.0):\n"
     "    r = np.asarray(y, dtype=float) - np.asarray(yhat, dtype=float)\n"
     "    return float(np.mean(np.log(sigma) + 0.5 * np.log(2 * np.pi) + r**2 / (2 * sigma**2)))"),
    ("c4_gaussian_nll_answer", "minus the log of the density",
     "def gaussian_nll(y, yhat, sigma=1.0):\n"
     "    y, yhat = np.asarray(y, dtype=float), np.asarray(yhat, dtype=float)\n"
     "    density = np.exp(-(y - yhat) ** 2 / (2 * sigma**2)) / np.sqrt(2 * np.pi * sigma**2)\n"
     "    return float(-np.mean(np.log(density)))"),
    ("c4_gaussian_nll_answer", "a loop",
     "import math\n\n\n"
     "def gaussian_nll(y, yhat, sigma=1.0):\n"
     "    ys, hs = np.ravel(y), np.ravel(yhat)\n"
     "    total = 0.0\n"
     "    for a, b in zip(ys, hs):\n"
     "        total += 0.5 * math.log(2 * math.pi * sigma**2) + (a - b) ** 2 / (2 * sigma**2)\n"
     "    return total / len(ys)"),
    ("c4_kl_answer", "np.where twice",
     "def kl_divergence(p, q):\n"
     "    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)\n"
     "    safe_p, safe_q = np.where(p > 0, p, 1.0), np.where(p > 0, q, 1.0)\n"
     "    return float(np.sum(np.where(p > 0, p * np.log(safe_p / safe_q), 0.0)))"),
    ("c4_kl_answer", "a loop skipping zeros",
     "def kl_divergence(p, q):\n"
     "    total = 0.0\n"
     "    for pk, qk in zip(p, q):\n"
     "        if pk > 0:\n"
     "            total += pk * np.log(pk / qk)\n"
     "    return float(total)"),
    ("c4_kl_answer", "cross-entropy minus entropy",
     "def kl_divergence(p, q):\n"
     "    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)\n"
     "    keep = p > 0\n"
     "    return float(np.sum(p[keep] * np.log(p[keep])) - np.sum(p[keep] * np.log(q[keep])))"),
    ("c4_cross_entropy_answer", "a dot product",
     "def cross_entropy(p, q):\n"
     "    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)\n"
     "    keep = p > 0\n"
     "    return float(-np.dot(p[keep], np.log(q[keep])))"),
    ("c4_cross_entropy_answer", "a loop",
     "import math\n\n\n"
     "def cross_entropy(p, q):\n"
     "    return -sum(pk * math.log(qk) for pk, qk in zip(p, q) if pk > 0)"),
]

RIGHT_ANSWERS = {
    "A_theory.ipynb": A,
    "B_coding.ipynb": B,
    "C_conceptual.ipynb": C,
}
