//! Fixed quadrature of the standard normal ability distribution, as mirt uses it by default:
//! equally spaced nodes on [−6, 6] with weights proportional to the N(0, 1) density, normalised to
//! sum to one.

/// Quadrature nodes and weights of the latent distribution.
#[derive(Clone, Debug)]
pub struct Quadrature {
    /// Nodes θ_q, ascending.
    pub nodes: Vec<f64>,
    /// Weights, summing to one.
    pub weights: Vec<f64>,
}

impl Quadrature {
    /// `count` equally spaced nodes on `[−limit, limit]` with normal-density weights.
    /// `count` must be at least 2 (callers validate user input first).
    pub fn normal(count: usize, limit: f64) -> Quadrature {
        let count = count.max(2);
        let step = 2.0 * limit / (count - 1) as f64;
        let nodes: Vec<f64> = (0..count).map(|q| -limit + step * q as f64).collect();
        let densities: Vec<f64> = nodes.iter().map(|t| (-0.5 * t * t).exp()).collect();
        let total: f64 = densities.iter().sum();
        let weights = densities.iter().map(|d| d / total).collect();
        Quadrature { nodes, weights }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when there are no nodes (never for a quadrature built by [`Quadrature::normal`]).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}
