//! The little dense linear algebra the estimation needs: matrix products (through
//! `matrixmultiply`'s runtime-dispatched SIMD kernels), small linear solves and the inverse of a
//! symmetric positive-definite matrix (Cholesky).
//!
//! All matrices are row-major `&[f64]` slices; shapes are internal, never user input.

/// `c = beta·c + a·b` with `a` m×k, `b` k×n and `c` m×n, all row-major.
pub fn gemm(m: usize, k: usize, n: usize, a: &[f64], b: &[f64], beta: f64, c: &mut [f64]) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the assertion above keeps every index the kernel touches inside the slices;
    // `c` is borrowed mutably and does not alias `a` or `b`.
    unsafe {
        matrixmultiply::dgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// `c = beta·c + aᵀ·b` with `a` k×m, `b` k×n and `c` m×n, all row-major.
pub fn gemm_transposed_a(
    m: usize,
    k: usize,
    n: usize,
    a: &[f64],
    b: &[f64],
    beta: f64,
    c: &mut [f64],
) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: as in `gemm`; aᵀ is read through strides (row stride 1, column stride m).
    unsafe {
        matrixmultiply::dgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            1,
            m as isize,
            b.as_ptr(),
            n as isize,
            1,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// Solves `matrix · x = rhs` (n×n, row-major) by Gaussian elimination with partial pivoting.
/// Returns `None` when the matrix is singular to working precision.
pub fn solve(matrix: &[f64], rhs: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut a = matrix[..n * n].to_vec();
    let mut x = rhs[..n].to_vec();
    let scale = a
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    for col in 0..n {
        let pivot_row =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[pivot_row * n + col].abs() <= scale * 1e-14 {
            return None;
        }
        if pivot_row != col {
            for k in 0..n {
                a.swap(col * n + k, pivot_row * n + k);
            }
            x.swap(col, pivot_row);
        }
        let pivot = a[col * n + col];
        for row in col + 1..n {
            let factor = a[row * n + col] / pivot;
            if factor != 0.0 {
                for k in col..n {
                    a[row * n + k] -= factor * a[col * n + k];
                }
                x[row] -= factor * x[col];
            }
        }
    }
    for col in (0..n).rev() {
        let mut value = x[col];
        for k in col + 1..n {
            value -= a[col * n + k] * x[k];
        }
        x[col] = value / a[col * n + col];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Inverse of a symmetric positive-definite matrix (n×n, row-major) through its Cholesky
/// factor. Returns `None` when the matrix is not positive definite.
pub fn inverse_positive_definite(matrix: &[f64], n: usize) -> Option<Vec<f64>> {
    // Cholesky: matrix = L·Lᵀ.
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut sum = matrix[i * n + j];
            for k in 0..j {
                sum -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if sum <= 0.0 || !sum.is_finite() {
                    return None;
                }
                l[i * n + i] = sum.sqrt();
            } else {
                l[i * n + j] = sum / l[j * n + j];
            }
        }
    }
    // Invert L (lower triangular), then matrix⁻¹ = L⁻ᵀ·L⁻¹.
    let mut l_inv = vec![0.0; n * n];
    for i in 0..n {
        l_inv[i * n + i] = 1.0 / l[i * n + i];
        for j in 0..i {
            let mut sum = 0.0;
            for k in j..i {
                sum -= l[i * n + k] * l_inv[k * n + j];
            }
            l_inv[i * n + j] = sum / l[i * n + i];
        }
    }
    let mut inverse = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut sum = 0.0;
            for k in i..n {
                sum += l_inv[k * n + i] * l_inv[k * n + j];
            }
            inverse[i * n + j] = sum;
            inverse[j * n + i] = sum;
        }
    }
    Some(inverse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_match_naive() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2×3
        let b = [1.0, 0.5, -1.0, 2.0, 0.0, 1.0]; // 3×2
        let mut c = vec![0.0; 4];
        gemm(2, 3, 2, &a, &b, 0.0, &mut c);
        assert_eq!(c, vec![-1.0, 7.5, -1.0, 18.0]);
        // aᵀ (3×2) · a-shaped 2×3 → 3×3
        let mut d = vec![0.0; 9];
        gemm_transposed_a(3, 2, 3, &a, &a, 0.0, &mut d);
        assert_eq!(d[0], 1.0 + 16.0);
        assert_eq!(d[4], 4.0 + 25.0);
        assert_eq!(d[2], 3.0 + 24.0);
    }

    #[test]
    fn solve_and_inverse() {
        let m = [4.0, 1.0, 1.0, 3.0];
        let x = solve(&m, &[1.0, 2.0], 2).unwrap();
        assert!((4.0 * x[0] + x[1] - 1.0).abs() < 1e-12);
        assert!((x[0] + 3.0 * x[1] - 2.0).abs() < 1e-12);
        let inv = inverse_positive_definite(&m, 2).unwrap();
        assert!((inv[0] - 3.0 / 11.0).abs() < 1e-12);
        assert!((inv[1] + 1.0 / 11.0).abs() < 1e-12);
        assert!(inverse_positive_definite(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
        assert!(solve(&[1.0, 2.0, 2.0, 4.0], &[1.0, 1.0], 2).is_none());
    }
}
