//! The dense linear algebra the estimation needs: matrix products through `matrixmultiply`'s
//! runtime-dispatched SIMD kernels (the E-step and standard-error accumulations, with
//! arbitrary strides), and factorisations from faer: LU with partial pivoting for the Newton
//! systems, Cholesky for inverting an information matrix.
//!
//! All matrices are row-major `&[f64]` slices; shapes are internal, never user input.
//!
//! faer's matrix-product kernels on x86-64 (`private-gemm-x86`, hand-written AVX-512) return
//! without `vzeroupper`: the upper halves of the vector registers stay in use, and on Intel
//! processors every SSE instruction on that thread then pays a transition penalty until
//! something clears them (the code after a factorisation ran up to 8× slower). Every faer call
//! here is followed by [`clear_vector_state`] on the threads that ran it.

use faer::linalg::solvers::{DenseSolveCore, Solve};
use faer::{Mat, Side};

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

/// `c = beta·c + a·bᵀ` with `a` m×k (rows `lda` apart), `b` n×k (rows `ldb` apart) and `c`
/// m×n (rows `ldc` apart), all row-major: products of row blocks of larger matrices.
#[allow(clippy::too_many_arguments)]
pub fn gemm_a_bt(
    m: usize,
    k: usize,
    n: usize,
    a: &[f64],
    lda: usize,
    b: &[f64],
    ldb: usize,
    beta: f64,
    c: &mut [f64],
    ldc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(lda >= k && ldb >= k && ldc >= n);
    assert!(a.len() >= (m - 1) * lda + k && b.len() >= (n - 1) * ldb + k);
    assert!(c.len() >= (m - 1) * ldc + n);
    // SAFETY: the assertions keep every index the kernel touches inside the slices; bᵀ is
    // read through strides (row stride 1, column stride ldb); `c` does not alias `a` or `b`.
    unsafe {
        matrixmultiply::dgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            lda as isize,
            1,
            b.as_ptr(),
            1,
            ldb as isize,
            beta,
            c.as_mut_ptr(),
            ldc as isize,
            1,
        );
    }
}

fn to_mat(matrix: &[f64], n: usize) -> Mat<f64> {
    Mat::from_fn(n, n, |i, j| matrix[i * n + j])
}

/// Clears the upper halves of the vector registers on this thread (`vzeroupper`) after faer's
/// kernels (see the module docs); nothing on processors without AVX.
#[inline]
pub fn clear_vector_state() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: AVX is present; vzeroupper only zeroes bits 128 and up of the vector
        // registers, which no live value of this (SSE) code occupies between calls.
        unsafe { std::arch::x86_64::_mm256_zeroupper() }
    }
}

/// [`clear_vector_state`] on this thread and on every thread of rayon's pool (faer's parallel
/// routines run on them).
pub fn clear_vector_state_everywhere() {
    clear_vector_state();
    rayon::broadcast(|_| clear_vector_state());
}

/// Clears the vector state everywhere when dropped: hold one over a stretch of faer calls,
/// whichever way the stretch is left.
pub struct ClearVectorState;

impl Drop for ClearVectorState {
    fn drop(&mut self) {
        clear_vector_state_everywhere();
    }
}

/// Solves `matrix · x = rhs` (n×n, row-major) by LU with partial pivoting. Returns `None`
/// when the matrix is singular to working precision.
pub fn solve(matrix: &[f64], rhs: &[f64], n: usize) -> Option<Vec<f64>> {
    if n == 0 {
        return Some(Vec::new());
    }
    let a = to_mat(matrix, n);
    let scale = matrix[..n * n]
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    let lu = a.partial_piv_lu();
    // A pivot that vanishes against the matrix's scale means a singular system.
    let u = lu.U();
    if (0..n).any(|i| u[(i, i)].abs() <= scale * 1e-14) {
        clear_vector_state();
        return None;
    }
    let b = Mat::from_fn(n, 1, |i, _| rhs[i]);
    let x = lu.solve(&b);
    clear_vector_state();
    let out: Vec<f64> = (0..n).map(|i| x[(i, 0)]).collect();
    out.iter().all(|v| v.is_finite()).then_some(out)
}

/// Inverse of a symmetric positive-definite matrix (n×n, row-major) through its Cholesky
/// factor. Returns `None` when the matrix is not positive definite.
pub fn inverse_positive_definite(matrix: &[f64], n: usize) -> Option<Vec<f64>> {
    if n == 0 {
        return Some(Vec::new());
    }
    if matrix[..n * n].iter().any(|v| !v.is_finite()) {
        return None;
    }
    let llt = to_mat(matrix, n).llt(Side::Lower);
    let Ok(llt) = llt else {
        clear_vector_state_everywhere();
        return None;
    };
    let inverse = llt.inverse();
    clear_vector_state_everywhere();
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = inverse[(i, j)];
        }
    }
    out.iter().all(|v| v.is_finite()).then_some(out)
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
