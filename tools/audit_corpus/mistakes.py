"""Common mistakes: each must lose points and show its hint where it loses them.

Each entry replaces one solution cell of the reference:
(grade_id, label, code, hint kind from course.hints.KINDS). They are the
mistakes the course specification names (forgotten inner derivative, sign
error, sigma for sigma', transpose, missing 1/m, unstable softmax, = for +=,
forward difference, ...), written the way a student would.
"""
from .right_answers import TENSOR_RECURSIVE_SET

# ------------------------------------------------------------------ Part A: theory

A = [
    ("a1_composition_answer", "inner and outer swapped",
     "inner = sp.sin(x)\nouter = u**2 + 3*u", "swapped_composition"),
    ("a1_derivative_answer", "forgot the inner derivative",
     "df_dx = sp.cos(x**2 + 3*x)", "missing_inner_derivative"),
    ("a1_derivative_answer", "outer function not differentiated",
     "df_dx = sp.sin(x**2 + 3*x) * (2*x + 3)", "missing_outer_derivative"),
    ("a1_derivative_answer", "the function instead of its derivative",
     "df_dx = f", "function_for_derivative"),
    ("a1_derivative_answer", "d/du cos = sin (sign)",
     "df_dx = -sp.cos(x**2 + 3*x) * (2*x + 3)", "sign_error"),
    ("a1_values_answer", "forward difference",
     "df_dx_at_1 = float(df_dx.subs(x, 1))\n"
     "f_num = sp.lambdify(x, f)\n"
     "h = 1e-3\n"
     "df_dx_numeric_at_1 = float((f_num(1 + h) - f_num(1)) / h)", "forward_difference"),
    ("a1_values_answer", "backward difference",
     "df_dx_at_1 = float(df_dx.subs(x, 1))\n"
     "f_num = sp.lambdify(x, f)\n"
     "h = 1e-3\n"
     "df_dx_numeric_at_1 = float((f_num(1) - f_num(1 - h)) / h)", "forward_difference"),
    ("a1_values_answer", "step 1e-4 instead of 1e-3",
     "df_dx_at_1 = float(df_dx.subs(x, 1))\n"
     "f_num = sp.lambdify(x, f)\n"
     "h = 1e-4\n"
     "df_dx_numeric_at_1 = float((f_num(1 + h) - f_num(1 - h)) / (2 * h))", "wrong_step"),
    ("a1_values_answer", "the exact value where the estimate is asked for",
     "df_dx_at_1 = float(df_dx.subs(x, 1))\n"
     "df_dx_numeric_at_1 = float(df_dx.subs(x, 1))", "exact_for_numeric"),
    ("a2_gradients_answer", "dz/dw = x forgotten",
     "a = sigmoid(w*x + b)\n"
     "dL_dw = 2 * (a - y) * a * (1 - a)\n"
     "dL_db = 2 * (a - y) * a * (1 - a)", "missing_chain_factor"),
    ("a2_gradients_answer", "the 2 of the square forgotten",
     "a = sigmoid(w*x + b)\n"
     "dL_dw = (a - y) * a * (1 - a) * x\n"
     "dL_db = (a - y) * a * (1 - a)", "factor_of_two"),
    ("a2_gradients_answer", "sigma where sigma' belongs",
     "a = sigmoid(w*x + b)\n"
     "dL_dw = 2 * (a - y) * a * x\n"
     "dL_db = 2 * (a - y) * a", "sigma_for_sigma_prime"),
    ("a2_gradients_answer", "y - a instead of a - y",
     "a = sigmoid(w*x + b)\n"
     "dL_dw = 2 * (y - a) * a * (1 - a) * x\n"
     "dL_db = 2 * (y - a) * a * (1 - a)", "sign_error"),
    ("a2_gradients_answer", "dL/db copied from dL/dw with its x",
     "a = sigmoid(w*x + b)\n"
     "dL_dw = 2 * (a - y) * a * (1 - a) * x\n"
     "dL_db = 2 * (a - y) * a * (1 - a) * x", "extra_factor"),
    ("a2_sigma_prime_answer", "sigma for sigma'",
     "sigma_prime = sigmoid(z)\nsigma_prime_at_10 = float(sigma_prime.subs(z, 10))", "sigma_for_sigma_prime"),
    ("a2_sigma_prime_answer", "sign of the exponential's derivative",
     "sigma_prime = -sp.exp(-z) / (1 + sp.exp(-z))**2\nsigma_prime_at_10 = float(sigma_prime.subs(z, 10))", "sign_error"),
    ("a3_symbolic_answer", "the two cases swapped",
     "dyk_dzk = -yhat_k * yhat_i\ndyk_dzi = yhat_k * (1 - yhat_k)", "same_index_for_different"),
    ("a3_symbolic_answer", "sign of the diagonal",
     "dyk_dzk = yhat_k * (yhat_k - 1)\ndyk_dzi = -yhat_k * yhat_i", "sign_error"),
    ("a3_symbolic_answer", "the softmax output for its derivative",
     "dyk_dzk = yhat_k\ndyk_dzi = -yhat_k * yhat_i", "function_for_derivative"),
    ("a3_jacobian_answer", "only the diagonal",
     "def softmax_jacobian(z):\n"
     "    e = np.exp(z - np.max(z))\n"
     "    s = e / e.sum()\n"
     "    return np.diag(s * (1 - s))", "missing_off_diagonal"),
    ("a3_jacobian_answer", "s * s where the outer product belongs",
     "def softmax_jacobian(z):\n"
     "    e = np.exp(z - np.max(z))\n"
     "    s = e / e.sum()\n"
     "    return np.diag(s) - s * s", "elementwise_vs_matrix"),
    ("a3_jacobian_answer", "softmax without the shift",
     "def softmax_jacobian(z):\n"
     "    s = np.exp(z) / np.sum(np.exp(z))\n"
     "    return np.diag(s) - np.outer(s, s)", "unstable"),
    ("a3_jacobian_answer", "sign flipped",
     "def softmax_jacobian(z):\n"
     "    e = np.exp(z - np.max(z))\n"
     "    s = e / e.sum()\n"
     "    return np.outer(s, s) - np.diag(s)", "sign_error"),
    ("a4_symbolic_answer", "y - yhat", "dL_dz_i = y_i - yhat_i", "sign_error"),
    ("a4_symbolic_answer", "stopped at dL/dyhat", "dL_dz_i = -y_i / yhat_i", "missing_chain_factor"),
    ("a4_grad_answer", "y - softmax",
     "def ce_softmax_grad(z, y):\n"
     "    e = np.exp(z - np.max(z))\n"
     "    return y - e / e.sum()", "sign_error"),
    ("a4_grad_answer", "softmax without the shift",
     "def ce_softmax_grad(z, y):\n"
     "    return np.exp(z) / np.sum(np.exp(z)) - y", "unstable"),
    ("a4_grad_answer", "shifts z in place",
     "def ce_softmax_grad(z, y):\n"
     "    z -= np.max(z)\n"
     "    e = np.exp(z)\n"
     "    return e / e.sum() - y", "mutates_input"),
    ("a4_grad_answer", "stopped at dL/dyhat",
     "def ce_softmax_grad(z, y):\n"
     "    e = np.exp(z - np.max(z))\n"
     "    return -y / (e / e.sum())", "missing_chain_factor"),
    ("a5_answer", "W instead of W transposed",
     "def backprop_delta(W_next, delta_next, z):\n"
     "    return (W_next @ delta_next) * (z > 0)", "missing_transpose"),
    ("a5_answer", "ReLU's derivative forgotten",
     "def backprop_delta(W_next, delta_next, z):\n"
     "    return W_next.T @ delta_next", "missing_mask"),
    ("a5_answer", "ReLU itself where its derivative belongs",
     "def backprop_delta(W_next, delta_next, z):\n"
     "    return (W_next.T @ delta_next) * np.maximum(z, 0)", "function_for_derivative"),
    ("a5_answer", "z >= 0 lets the gradient through at 0",
     "def backprop_delta(W_next, delta_next, z):\n"
     "    return (W_next.T @ delta_next) * (z >= 0)", "wrong_mask"),
    ("a5_answer", "the mask inverted",
     "def backprop_delta(W_next, delta_next, z):\n"
     "    return (W_next.T @ delta_next) * (z < 0)", "wrong_mask"),
    ("a5_answer", "zeroes z in place",
     "def backprop_delta(W_next, delta_next, z):\n"
     "    z[z <= 0] = 0\n"
     "    z[z > 0] = 1\n"
     "    return (W_next.T @ delta_next) * z", "mutates_input"),
    # Analytic answers must be analytic: finite-difference estimates pass every moderate input.
    ("a3_jacobian_answer", "a central-difference estimate of the Jacobian",
     "def softmax_jacobian(z):\n"
     "    z = np.asarray(z, dtype=float)\n"
     "    def softmax(v):\n"
     "        e = np.exp(v - np.max(v))\n"
     "        return e / e.sum()\n"
     "    J = np.zeros((len(z), len(z)))\n"
     "    for i in range(len(z)):\n"
     "        step = np.zeros(len(z))\n"
     "        step[i] = 1e-6\n"
     "        J[:, i] = (softmax(z + step) - softmax(z - step)) / 2e-6\n"
     "    return J", "approximation"),
    ("a4_grad_answer", "a central-difference estimate of the loss's gradient",
     "def ce_softmax_grad(z, y):\n"
     "    z, y = np.asarray(z, dtype=float), np.asarray(y, dtype=float)\n"
     "    def loss(v):\n"
     "        top = np.max(v)\n"
     "        return top + np.log(np.sum(np.exp(v - top))) - np.dot(y, v)\n"
     "    grad = np.zeros(len(z))\n"
     "    for i in range(len(z)):\n"
     "        step = np.zeros(len(z))\n"
     "        step[i] = 1e-6\n"
     "        grad[i] = (loss(z + step) - loss(z - step)) / 2e-6\n"
     "    return grad", "approximation"),
    ("a5_answer", "ReLU's derivative by a central difference",
     "def backprop_delta(W_next, delta_next, z):\n"
     "    h = 1e-6\n"
     "    slope = (np.maximum(z + h, 0) - np.maximum(z - h, 0)) / (2 * h)\n"
     "    slope[z == 0] = 0.0  # the convention at 0, special-cased\n"
     "    return (W_next.T @ delta_next) * slope", "approximation"),
    ("a6_answer", "L factors instead of L - 1",
     "sigmoid_prime_max = 0.25\n\n\n"
     "def vanishing_bound(L):\n"
     "    return 0.25 ** L\n\n\n"
     "bound_L50 = vanishing_bound(50)", "off_by_one_layers"),
    ("a6_answer", "sigma(0) = 1/2 taken for the largest slope",
     "sigmoid_prime_max = 0.5\n\n\n"
     "def vanishing_bound(L):\n"
     "    return 0.25 ** (L - 1)\n\n\n"
     "bound_L50 = vanishing_bound(50)", "function_for_derivative"),
    ("a6_answer", "the bound built from 1/2",
     "sigmoid_prime_max = 0.25\n\n\n"
     "def vanishing_bound(L):\n"
     "    return 0.5 ** (L - 1)\n\n\n"
     "bound_L50 = vanishing_bound(50)", "wrong_maximum"),
    ("a7_entropy_answer", "log base 2",
     "binary_entropy = -p * sp.log(p, 2) - (1 - p) * sp.log(1 - p, 2)", "log_base"),
    ("a7_entropy_answer", "log base 10",
     "binary_entropy = -p * sp.log(p, 10) - (1 - p) * sp.log(1 - p, 10)", "log_base"),
    ("a7_entropy_answer", "minus signs dropped",
     "binary_entropy = p * sp.log(p) + (1 - p) * sp.log(1 - p)", "sign_error"),
    ("a7_maxima_answer", "the maximum value 1/4 for its location",
     "p_max_sigma_prime = sp.Rational(1, 4)\np_max_entropy = sp.Rational(1, 2)\nmax_entropy = sp.log(2)",
     "wrong_maximum"),
    ("a7_maxima_answer", "z = 0 for p",
     "p_max_sigma_prime = 0\np_max_entropy = sp.Rational(1, 2)\nmax_entropy = sp.log(2)", "z_for_p"),
    ("a7_maxima_answer", "the maximum entropy in bits",
     "p_max_sigma_prime = sp.Rational(1, 2)\np_max_entropy = sp.Rational(1, 2)\nmax_entropy = 1", "log_base"),
    ("a7_maxima_answer", "a decimal for ln 2",
     "p_max_sigma_prime = sp.Rational(1, 2)\np_max_entropy = sp.Rational(1, 2)\nmax_entropy = 0.6931471805599453",
     "float_for_exact"),
]

# ------------------------------------------------------------------ Part B: coding

SIGMOID_OK = ("def sigmoid(z):\n"
              "    z = np.asarray(z, dtype=float)\n"
              "    e = np.exp(-np.abs(z))\n"
              "    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))\n\n\n")
SOFTMAX_OK = ("def softmax(z):\n"
              "    e = np.exp(z - np.max(z, axis=0, keepdims=True))\n"
              "    return e / np.sum(e, axis=0, keepdims=True)")
RELU_OK = ("def relu(z):\n"
           "    return np.maximum(0.0, z)\n\n\n"
           "def relu_derivative(z):\n"
           "    return (np.asarray(z) > 0).astype(float)\n\n\n")
BACKWARD = '''def backward_pass(X, y, W1, b1, W2, b2, z1, a1, z2, a2):
    m = X.shape[1]
    dz2 = a2 - y
    dW2 = dz2 @ a1.T / m
    db2 = np.sum(dz2, axis=1, keepdims=True) / m
    dz1 = (W2.T @ dz2) * relu_derivative(z1)
    dW1 = dz1 @ X.T / m
    db1 = np.sum(dz1, axis=1, keepdims=True) / m
    return dW1, db1, dW2, db2'''
NUMGRAD = '''def numerical_gradient(f, param, eps=1e-5):
    grad = np.zeros(param.shape)
    for index in np.ndindex(param.shape):
        old = param[index]
        param[index] = old + eps
        up = f(param)
        param[index] = old - eps
        down = f(param)
        param[index] = old
        grad[index] = (up - down) / (2 * eps)
    return grad'''
FLOW = '''def analyze_gradient_flow(layer_sizes, activation='relu', n_samples=100, seed=42):
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)
               for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:])]
    a = rng.standard_normal((layer_sizes[0], n_samples))
    zs = []
    for W in weights[:-1]:
        z = W @ a
        zs.append(z)
        a = np.maximum(z, 0.0) if activation == 'relu' else 1 / (1 + np.exp(-z))
    delta = np.ones((layer_sizes[-1], n_samples))
    out = [1.0]
    for W, z in zip(weights[:0:-1], zs[::-1]):
        if activation == 'relu':
            local = (z > 0).astype(float)
        else:
            s = 1 / (1 + np.exp(-z))
            local = s * (1 - s)
        delta = (W.T @ delta) * local
        out.insert(0, float(np.mean(np.abs(delta))))
    return out'''
PLOT = '''def plot_gradient_flow(results):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, values in results.items():
        for ax in axes:
            ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("layer")
        ax.set_ylabel("mean |delta|")
        ax.legend()
    return fig'''


def _tensor(old, new, count=1):
    """The recursive Tensor of the right-answer corpus with one slip put in."""
    assert TENSOR_RECURSIVE_SET.count(old) >= count, old
    return TENSOR_RECURSIVE_SET.replace(old, new, count)


B = [
    ("b1_sigmoid_answer", "1 / (1 + exp(-z)) overflows for large negative z",
     "def sigmoid(z):\n"
     "    return 1 / (1 + np.exp(-z))\n\n\n"
     "def sigmoid_derivative(z):\n"
     "    s = sigmoid(z)\n"
     "    return s * (1 - s)", "unstable"),
    ("b1_sigmoid_answer", "sigma for sigma'",
     SIGMOID_OK + "def sigmoid_derivative(z):\n    return sigmoid(z)", "sigma_for_sigma_prime"),
    ("b1_sigmoid_answer", "s(1 - s) applied to z",
     SIGMOID_OK + "def sigmoid_derivative(z):\n    return z * (1 - z)", "applied_to_input"),
    ("b1_numerical_answer", "forward difference",
     "def numerical_derivative(f, x, eps=1e-5):\n    return (f(x + eps) - f(x)) / eps", "forward_difference"),
    ("b1_numerical_answer", "divided by eps instead of 2 eps",
     "def numerical_derivative(f, x, eps=1e-5):\n    return (f(x + eps) - f(x - eps)) / eps", "wrong_denominator"),
    ("b1_numerical_answer", "eps ignored: a fixed step",
     "def numerical_derivative(f, x, eps=1e-5):\n    return (f(x + 1e-5) - f(x - 1e-5)) / 2e-5", "wrong_step"),
    ("b1_relerr_answer", "no floor: 0/0 for two zeros",
     "def relative_error(a, b):\n"
     "    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)\n"
     "    return float(np.max(np.abs(a - b) / (np.abs(a) + np.abs(b))))", "missing_floor"),
    ("b1_relerr_answer", "relative to a only",
     "def relative_error(a, b):\n"
     "    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)\n"
     "    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-12)))", "asymmetric_error"),
    ("b1_relerr_answer", "mean instead of max",
     "def relative_error(a, b):\n"
     "    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)\n"
     "    return float(np.mean(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-12)))", "mean_not_max"),
    ("b1_neuron_answer", "the 2 of the square forgotten",
     "def neuron_grad_w(w, x, y):\n"
     "    a = sigmoid(w * x)\n"
     "    return (a - y) * a * (1 - a) * x", "factor_of_two"),
    ("b1_neuron_answer", "dz/dw = x forgotten",
     "def neuron_grad_w(w, x, y):\n"
     "    a = sigmoid(w * x)\n"
     "    return 2 * (a - y) * a * (1 - a)", "missing_inner_derivative"),
    ("b1_neuron_answer", "sigma for sigma'",
     "def neuron_grad_w(w, x, y):\n"
     "    a = sigmoid(w * x)\n"
     "    return 2 * (a - y) * a * x", "sigma_for_sigma_prime"),
    ("b1_neuron_answer", "sigma' forgotten",
     "def neuron_grad_w(w, x, y):\n"
     "    a = sigmoid(w * x)\n"
     "    return 2 * (a - y) * x", "missing_chain_factor"),
    ("b2_activations_answer", "relu for its derivative",
     "def relu(z):\n    return np.maximum(0.0, z)\n\n\n"
     "def relu_derivative(z):\n    return np.maximum(0.0, z)\n\n\n" + SOFTMAX_OK, "function_for_derivative"),
    ("b2_activations_answer", "softmax over the rows (axis=1)",
     RELU_OK + "def softmax(z):\n"
     "    e = np.exp(z - np.max(z, axis=1, keepdims=True))\n"
     "    return e / np.sum(e, axis=1, keepdims=True)", "softmax_axis"),
    ("b2_activations_answer", "softmax over the whole array",
     RELU_OK + "def softmax(z):\n"
     "    e = np.exp(z - np.max(z))\n"
     "    return e / np.sum(e)", "wrong_axis"),
    ("b2_activations_answer", "softmax without the shift",
     RELU_OK + "def softmax(z):\n"
     "    e = np.exp(z)\n"
     "    return e / np.sum(e, axis=0, keepdims=True)", "unstable"),
    ("b2_activations_answer", "relu zeroes its input in place",
     "def relu(z):\n    z[z < 0] = 0\n    return z\n\n\n"
     "def relu_derivative(z):\n    return (np.asarray(z) > 0).astype(float)\n\n\n" + SOFTMAX_OK, "mutates_input"),
    ("b2_backward_answer", "the 1/m forgotten",
     BACKWARD.replace(" / m\n", "\n"), "missing_mean"),
    ("b2_backward_answer", "relu's derivative forgotten",
     BACKWARD.replace("(W2.T @ dz2) * relu_derivative(z1)", "W2.T @ dz2"), "missing_mask"),
    ("b2_backward_answer", "biases summed over the wrong axis",
     BACKWARD.replace("np.sum(dz1, axis=1, keepdims=True)", "np.sum(dz1, axis=0, keepdims=True)"), "wrong_axis"),
    ("b2_backward_answer", "dW2 transposed",
     BACKWARD.replace("dW2 = dz2 @ a1.T / m", "dW2 = a1 @ dz2.T / m"), "transposed"),
    ("b3_numerical_answer", "forward difference",
     NUMGRAD.replace("param[index] = old - eps\n        down = f(param)", "param[index] = old\n        down = f(param)")
     .replace("(up - down) / (2 * eps)", "(up - down) / eps"), "forward_difference"),
    ("b3_numerical_answer", "the entry not restored",
     NUMGRAD.replace("        param[index] = old\n        grad", "        grad"), "not_restored"),
    ("b3_numerical_answer", "perturbs a copy",
     NUMGRAD.replace("    grad = np.zeros(param.shape)\n", "    grad = np.zeros(param.shape)\n    param = param.copy()\n"),
     "perturbs_copy"),
    ("b3_numerical_answer", "divided by eps instead of 2 eps",
     NUMGRAD.replace("(up - down) / (2 * eps)", "(up - down) / eps"), "wrong_denominator"),
    ("b3_check_answer", "weights only, biases skipped",
     "def gradient_check(net, X, y, eps=1e-5):\n"
     "    grads = net.gradients(X, y)\n"
     "    worst = 0.0\n"
     "    for name in ['W1', 'W2']:\n"
     "        num = numerical_gradient(lambda p: net.loss(X, y), net.params[name], eps)\n"
     "        worst = max(worst, relative_error(grads[name], num))\n"
     "    return worst", "skips_parameters"),
    ("b3_check_answer", "perturbs copies of the parameters",
     "def gradient_check(net, X, y, eps=1e-5):\n"
     "    grads = net.gradients(X, y)\n"
     "    worst = 0.0\n"
     "    for name, param in net.params.items():\n"
     "        num = numerical_gradient(lambda p: net.loss(X, y), param.copy(), eps)\n"
     "        worst = max(worst, relative_error(grads[name], num))\n"
     "    return worst", "perturbs_copy"),
    ("b4_tensor_answer", "= instead of += in __add__'s backward",
     _tensor("self.grad += Tensor._unbroadcast(out.grad, self.data.shape)\n"
             "            other.grad += Tensor._unbroadcast(out.grad, other.data.shape)",
             "self.grad = Tensor._unbroadcast(out.grad, self.data.shape)\n"
             "            other.grad = Tensor._unbroadcast(out.grad, other.data.shape)"),
     "overwrite_not_accumulate"),
    ("b4_tensor_answer", "no unbroadcasting",
     _tensor("        grad = np.asarray(grad, dtype=float)\n        lead",
             "        return np.asarray(grad, dtype=float)\n        lead"), "no_unbroadcast"),
    ("b4_tensor_answer", "backward() resets every gradient",
     _tensor("            if node is not self and node._parents:\n", "            if True:\n"),
     "not_accumulating_across_calls"),
    ("b4_tensor_answer", "intermediate gradients kept from the last call",
     _tensor("            if node is not self and node._parents:\n", "            if False:\n"), "stale_intermediate"),
    ("b4_tensor_answer", "nodes visited inputs first",
     _tensor("        for node in topo[::-1]:\n", "        for node in topo:\n"), "wrong_order"),
    ("b4_tensor_answer", "1 - a computed as a - 1",
     _tensor("        return Tensor._lift(other).__sub__(self)", "        return self.__sub__(other)"),
     "swapped_arguments"),
    ("b5_flow_answer", "relu's derivative left out",
     FLOW.replace("            local = (z > 0).astype(float)", "            local = 1.0"), "missing_mask"),
    ("b5_flow_answer", "sigma for sigma'",
     FLOW.replace("            local = s * (1 - s)", "            local = s"), "sigma_for_sigma_prime"),
    ("b5_flow_answer", "no He scaling",
     FLOW.replace(" * np.sqrt(2.0 / n_in)", ""), "wrong_init"),
    ("b5_flow_answer", "output layer first",
     FLOW.replace("    return out", "    return out[::-1]"), "wrong_order_of_layers"),
    ("b5_flow_answer", "the legacy global generator",
     FLOW.replace("    rng = np.random.default_rng(seed)\n", "    np.random.seed(seed)\n")
     .replace("rng.standard_normal((n_out, n_in))", "np.random.randn(n_out, n_in)")
     .replace("rng.standard_normal((layer_sizes[0], n_samples))", "np.random.randn(layer_sizes[0], n_samples)"),
     "wrong_generator"),
    ("b5_plot_answer", "plt.show() instead of returning the figure",
     PLOT.replace("    return fig", "    plt.show()"), "not_a_figure"),
    ("b5_plot_answer", "one panel",
     "def plot_gradient_flow(results):\n"
     "    fig, ax = plt.subplots()\n"
     "    for name, values in results.items():\n"
     "        ax.semilogy(range(1, len(values) + 1), values, label=name)\n"
     "    ax.set_xlabel('layer')\n"
     "    ax.set_ylabel('mean |delta|')\n"
     "    ax.legend()\n"
     "    return fig", "wrong_panels"),
    ("b5_plot_answer", "both panels linear",
     PLOT.replace('    axes[1].set_yscale("log")\n', ""), "no_log_panel"),
    ("b5_plot_answer", "no axis labels",
     PLOT.replace('        ax.set_xlabel("layer")\n        ax.set_ylabel("mean |delta|")\n', ""), "missing_labels"),
    ("b5_plot_answer", "no legends",
     PLOT.replace("        ax.legend()\n", ""), "missing_legend"),
    ("b6_train_answer", "gradient ascent",
     "def train(net, X, y, learning_rate=1.0, epochs=40):\n"
     "    losses = []\n"
     "    for _ in range(epochs):\n"
     "        losses.append(float(net.loss(X, y)))\n"
     "        grads = net.gradients(X, y)\n"
     "        for name in net.params:\n"
     "            net.params[name] = net.params[name] + learning_rate * grads[name]\n"
     "    return losses", "sign_error"),
    ("b6_train_answer", "the biases never updated",
     "def train(net, X, y, learning_rate=1.0, epochs=40):\n"
     "    losses = []\n"
     "    for _ in range(epochs):\n"
     "        losses.append(float(net.loss(X, y)))\n"
     "        grads = net.gradients(X, y)\n"
     "        for name in (\"W1\", \"W2\"):\n"
     "            net.params[name] = net.params[name] - learning_rate * grads[name]\n"
     "    return losses", "skips_update"),
]

# ------------------------------------------------------------------ Part C: conceptual

BN = '''def batch_normalize(Z, eps=1e-5):
    Z = np.asarray(Z, dtype=float)
    mu = Z.mean(axis=1, keepdims=True)
    var = Z.var(axis=1, keepdims=True)
    return (Z - mu) / np.sqrt(var + eps)'''

C = [
    ("c1_forward_answer", "reverse mode's count",
     "def forward_mode_passes(n_inputs, n_outputs):\n    return n_outputs", "swapped_modes"),
    ("c1_forward_answer", "one pass always",
     "def forward_mode_passes(n_inputs, n_outputs):\n    return 1", "constant_passes"),
    ("c1_reverse_answer", "forward mode's count",
     "def reverse_mode_passes(n_inputs, n_outputs):\n    return n_inputs", "swapped_modes"),
    ("c1_reverse_answer", "one pass always",
     "def reverse_mode_passes(n_inputs, n_outputs):\n    return 1", "constant_passes"),
    ("c2_batch_normalize_answer", "normalised over the features (axis=0)",
     BN.replace("axis=1", "axis=0"), "wrong_normalisation_axis"),
    ("c2_batch_normalize_answer", "one mean and variance for everything",
     BN.replace("Z.mean(axis=1, keepdims=True)", "Z.mean()").replace("Z.var(axis=1, keepdims=True)", "Z.var()"),
     "whole_batch_normalised"),
    ("c2_batch_normalize_answer", "ddof=1",
     BN.replace("Z.var(axis=1, keepdims=True)", "Z.var(axis=1, keepdims=True, ddof=1)"), "biased_variance"),
    ("c2_batch_normalize_answer", "divided by the variance",
     BN.replace("np.sqrt(var + eps)", "(var + eps)"), "variance_for_std"),
    ("c2_batch_normalize_answer", "centred in place",
     "def batch_normalize(Z, eps=1e-5):\n"
     "    Z -= Z.mean(axis=1, keepdims=True)\n"
     "    Z /= np.sqrt(Z.var(axis=1, keepdims=True) + eps)\n"
     "    return Z", "mutates_input"),
    ("c2_mean_sigmoid_grad_answer", "the mean of sigma",
     "def mean_sigmoid_grad(Z):\n"
     "    return float(np.mean(0.5 * (1 + np.tanh(0.5 * np.asarray(Z, dtype=float)))))", "sigma_for_sigma_prime"),
    ("c2_mean_sigmoid_grad_answer", "a sum instead of a mean",
     "def mean_sigmoid_grad(Z):\n"
     "    s = 0.5 * (1 + np.tanh(0.5 * np.asarray(Z, dtype=float)))\n"
     "    return float(np.sum(s * (1 - s)))", "sum_not_mean"),
    ("c2_mean_sigmoid_grad_answer", "overflowing exponential",
     "def mean_sigmoid_grad(Z):\n"
     "    s = 1 / (1 + np.exp(-np.asarray(Z, dtype=float)))\n"
     "    return float(np.mean(s * (1 - s)))", "unstable"),
    ("c3_answer", "believes the gradients are approximate", 'C3_true_statements = "ABCEFH"', "gradient_is_approximate"),
    ("c3_answer", "one false statement too many", 'C3_true_statements = "BCDEFH"', "picked_false_statement"),
    ("c3_answer", "one true statement missed", 'C3_true_statements = "BCEF"', "missed_true_statement"),
    ("c4_gaussian_nll_answer", "the constant dropped (MSE / 2)",
     "def gaussian_nll(y, yhat, sigma=1.0):\n"
     "    y, yhat = np.asarray(y, dtype=float), np.asarray(yhat, dtype=float)\n"
     "    return float(np.mean((y - yhat) ** 2 / (2 * sigma**2)))", "missing_constant"),
    ("c4_gaussian_nll_answer", "a sum",
     "def gaussian_nll(y, yhat, sigma=1.0):\n"
     "    y, yhat = np.asarray(y, dtype=float), np.asarray(yhat, dtype=float)\n"
     "    return float(np.sum(0.5 * np.log(2 * np.pi * sigma**2) + (y - yhat) ** 2 / (2 * sigma**2)))", "sum_not_mean"),
    ("c4_gaussian_nll_answer", "sigma where sigma squared belongs",
     "def gaussian_nll(y, yhat, sigma=1.0):\n"
     "    y, yhat = np.asarray(y, dtype=float), np.asarray(yhat, dtype=float)\n"
     "    return float(np.mean(0.5 * np.log(2 * np.pi * sigma) + (y - yhat) ** 2 / (2 * sigma)))", "sigma_not_variance"),
    ("c4_gaussian_nll_answer", "log base 2",
     "def gaussian_nll(y, yhat, sigma=1.0):\n"
     "    y, yhat = np.asarray(y, dtype=float), np.asarray(yhat, dtype=float)\n"
     "    terms = 0.5 * np.log(2 * np.pi * sigma**2) + (y - yhat) ** 2 / (2 * sigma**2)\n"
     "    return float(np.mean(terms) / np.log(2))", "log_base"),
    ("c4_kl_answer", "KL(q || p)",
     "def kl_divergence(p, q):\n"
     "    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)\n"
     "    m = q > 0\n"
     "    return float(np.sum(q[m] * np.log(q[m] / p[m])))", "kl_direction"),
    ("c4_kl_answer", "log(q / p)",
     "def kl_divergence(p, q):\n"
     "    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)\n"
     "    m = p > 0\n"
     "    return float(np.sum(p[m] * np.log(q[m] / p[m])))", "sign_error"),
    ("c4_kl_answer", "log2",
     "def kl_divergence(p, q):\n"
     "    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)\n"
     "    m = p > 0\n"
     "    return float(np.sum(p[m] * np.log2(p[m] / q[m])))", "log_base"),
    ("c4_kl_answer", "0 log 0 not handled",
     "def kl_divergence(p, q):\n"
     "    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)\n"
     "    return float(np.sum(p * np.log(p / q)))", "zero_log_zero"),
    ("c4_cross_entropy_answer", "arguments swapped",
     "def cross_entropy(p, q):\n"
     "    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)\n"
     "    m = q > 0\n"
     "    return float(-np.sum(q[m] * np.log(p[m])))", "swapped_arguments"),
    ("c4_cross_entropy_answer", "minus sign dropped",
     "def cross_entropy(p, q):\n"
     "    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)\n"
     "    m = p > 0\n"
     "    return float(np.sum(p[m] * np.log(q[m])))", "sign_error"),
    ("c4_cross_entropy_answer", "log2",
     "def cross_entropy(p, q):\n"
     "    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)\n"
     "    m = p > 0\n"
     "    return float(-np.sum(p[m] * np.log2(q[m])))", "log_base"),
    ("c4_cross_entropy_answer", "0 log 0 not handled",
     "def cross_entropy(p, q):\n"
     "    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)\n"
     "    return float(-np.sum(p * np.log(q)))", "zero_log_zero"),
]

MISTAKES = {
    "A_theory.ipynb": A,
    "B_coding.ipynb": B,
    "C_conceptual.ipynb": C,
}
