//! Where every estimated number lives: the free-parameter vector ψ that EM, SQUAREM and the
//! standard errors work on, and how it fills each group's item parameter vectors and latent
//! distributions. A slot of an item's vector is either a free parameter or a fixed value, so
//! one mechanism covers a model's own parameters, values fixed by the user (anchored items,
//! fixed guessing), parameters shared between items (the Rasch family's scale, the 1PL's slope,
//! the rating scale's thresholds) and, for several groups, parameters equal across groups.
//!
//! Asymptotes (`c`, `u`) are estimated on the logit scale, as mirt does, so they never reach
//! 0 or 1; every other parameter is estimated as it is reported, within bounds that keep the
//! model defined. Priors are stated on the reported scale.

use std::collections::HashMap;

use crate::prediction::items::{ItemModel, ItemType, ParameterKind, Prior, Sharing};

/// An entry of an item's parameter vector.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Slot {
    /// Free parameter at this index of ψ.
    Free(usize),
    /// Fixed at this value (reported scale).
    Fixed(f64),
}

/// How a free parameter maps to its reported value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transform {
    /// ψ is the value.
    Identity,
    /// ψ = logit(value).
    Logit,
}

impl Transform {
    #[inline]
    pub fn value(self, psi: f64) -> f64 {
        match self {
            Transform::Identity => psi,
            Transform::Logit => crate::prediction::items::logistic(psi),
        }
    }

    #[inline]
    pub fn estimate_of(self, value: f64) -> f64 {
        match self {
            Transform::Identity => value,
            Transform::Logit => {
                let v = value.clamp(1e-9, 1.0 - 1e-9);
                (v / (1.0 - v)).ln()
            }
        }
    }

    /// d value / d ψ.
    #[inline]
    pub fn derivative(self, psi: f64) -> f64 {
        match self {
            Transform::Identity => 1.0,
            Transform::Logit => {
                let v = crate::prediction::items::logistic(psi);
                v * (1.0 - v)
            }
        }
    }

    /// d² value / d ψ².
    #[inline]
    pub fn second_derivative(self, psi: f64) -> f64 {
        match self {
            Transform::Identity => 0.0,
            Transform::Logit => {
                let v = crate::prediction::items::logistic(psi);
                v * (1.0 - v) * (1.0 - 2.0 * v)
            }
        }
    }
}

/// What a free parameter is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum FreeKind {
    /// An item parameter.
    Item(ParameterKind),
    /// A group's latent mean.
    LatentMean(usize),
    /// A group's latent variance.
    LatentVariance(usize),
}

/// Who uses a free parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// Only item j (in one or more groups).
    Item(usize),
    /// Several items.
    Shared,
    /// A group's latent distribution.
    Latent(usize),
}

/// One free parameter.
#[derive(Clone, Debug)]
pub(crate) struct FreeParameter {
    pub kind: FreeKind,
    pub transform: Transform,
    /// Bounds on the estimation scale.
    pub bounds: (f64, f64),
    /// Prior on the reported scale.
    pub prior: Option<Prior>,
    pub owner: Owner,
    /// For messages: "Q3 a", "rasch scale a", "group 2 mean".
    pub label: String,
}

/// An item as the estimation sees it.
#[derive(Clone)]
pub(crate) struct ItemSpec {
    pub name: String,
    pub item_type: ItemType,
    pub model: &'static dyn ItemModel,
    pub n_categories: usize,
}

/// The parameter layout of a calibration.
#[derive(Clone)]
pub(crate) struct ParameterLayout {
    pub items: Vec<ItemSpec>,
    /// `slots[g][j][m]`.
    pub slots: Vec<Vec<Vec<Slot>>>,
    /// Per group: latent mean and variance.
    pub latent: Vec<(Slot, Slot)>,
    pub free: Vec<FreeParameter>,
    /// Free parameters touching item j, own ones first.
    pub item_free: Vec<Vec<usize>>,
    /// Free parameters shared by several items.
    pub shared: Vec<usize>,
}

/// Item parameters per group and item, and latent moments per group (reported scale): a fit's
/// values, independent of which parameters were free.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LayoutValues {
    /// `items[g][j]`: item j's parameter vector in group g.
    pub items: Vec<Vec<Vec<f64>>>,
    /// Per group: latent mean and variance.
    pub latent: Vec<(f64, f64)>,
}

/// What a caller decides per item when building a layout.
pub(crate) struct ItemRequest<'a> {
    pub spec: ItemSpec,
    /// The whole vector fixed (anchored item), reported scale.
    pub fixed: Option<Vec<f64>>,
    /// Fixed values for single parameters by kind (fixed guessing).
    pub fixed_kinds: &'a [(ParameterKind, f64)],
    /// Prior for each parameter kind of this item.
    pub prior: &'a dyn Fn(ParameterKind) -> Option<Prior>,
    /// Parameters (by index) that differ between groups (a free parameter per group).
    pub per_group: &'a dyn Fn(usize) -> bool,
}

impl ParameterLayout {
    /// Builds the layout for `n_groups` groups. `latent_free[g]` says whether group g's mean and
    /// variance are estimated.
    pub fn new(
        requests: &[ItemRequest<'_>],
        n_groups: usize,
        latent_free: &[(bool, bool)],
    ) -> ParameterLayout {
        let mut free: Vec<FreeParameter> = Vec::new();
        let mut slots = vec![Vec::with_capacity(requests.len()); n_groups];
        let mut shared_index: HashMap<(&'static str, usize, usize), usize> = HashMap::new();
        let mut users: Vec<Vec<usize>> = Vec::new();
        for (j, request) in requests.iter().enumerate() {
            let specs = request.spec.model.parameters(request.spec.n_categories);
            let mut per_group_slots = vec![Vec::with_capacity(specs.len()); n_groups];
            for (m, spec) in specs.iter().enumerate() {
                let fixed_value = request.fixed.as_ref().map(|values| values[m]).or_else(|| {
                    request
                        .fixed_kinds
                        .iter()
                        .find(|(kind, _)| *kind == spec.kind)
                        .map(|(_, v)| *v)
                });
                if let Some(value) = fixed_value {
                    for group_slots in per_group_slots.iter_mut() {
                        group_slots.push(Slot::Fixed(value));
                    }
                    continue;
                }
                let transform = match spec.kind {
                    ParameterKind::LowerAsymptote | ParameterKind::UpperAsymptote => {
                        Transform::Logit
                    }
                    _ => Transform::Identity,
                };
                let bounds = match transform {
                    Transform::Logit => (-30.0, 30.0),
                    Transform::Identity => spec.kind.bounds(),
                };
                let differs = n_groups > 1 && (request.per_group)(m);
                let mut first_group_index = None;
                for (g, group_slots) in per_group_slots.iter_mut().enumerate() {
                    let group_key = if differs { g } else { 0 };
                    let index = match spec.sharing {
                        Sharing::Shared(key) => {
                            let entry = (key, m, group_key);
                            if let Some(&index) = shared_index.get(&entry) {
                                users[index].push(j);
                                index
                            } else {
                                free.push(FreeParameter {
                                    kind: FreeKind::Item(spec.kind),
                                    transform,
                                    bounds,
                                    prior: (request.prior)(spec.kind),
                                    owner: Owner::Shared,
                                    label: if differs {
                                        format!("{key} {} (group {})", spec.name, g + 1)
                                    } else {
                                        format!("{key} {}", spec.name)
                                    },
                                });
                                users.push(vec![j]);
                                shared_index.insert(entry, free.len() - 1);
                                free.len() - 1
                            }
                        }
                        Sharing::PerItem => {
                            if differs || g == 0 {
                                free.push(FreeParameter {
                                    kind: FreeKind::Item(spec.kind),
                                    transform,
                                    bounds,
                                    prior: (request.prior)(spec.kind),
                                    owner: Owner::Item(j),
                                    label: if differs {
                                        format!(
                                            "{} {} (group {})",
                                            request.spec.name,
                                            spec.name,
                                            g + 1
                                        )
                                    } else {
                                        format!("{} {}", request.spec.name, spec.name)
                                    },
                                });
                                users.push(vec![j]);
                                free.len() - 1
                            } else {
                                first_group_index.unwrap_or(free.len() - 1)
                            }
                        }
                    };
                    first_group_index.get_or_insert(index);
                    group_slots.push(Slot::Free(index));
                }
            }
            for (g, group_slots) in per_group_slots.into_iter().enumerate() {
                slots[g].push(group_slots);
            }
        }
        // A shared parameter used by one item only is that item's own.
        for (index, parameter) in free.iter_mut().enumerate() {
            if parameter.owner == Owner::Shared {
                let mut who = users[index].clone();
                who.sort_unstable();
                who.dedup();
                if who.len() == 1 {
                    parameter.owner = Owner::Item(who[0]);
                }
            }
        }
        let mut latent = Vec::with_capacity(n_groups);
        for (g, &(mean_free, variance_free)) in latent_free.iter().enumerate().take(n_groups) {
            let mean = if mean_free {
                free.push(FreeParameter {
                    kind: FreeKind::LatentMean(g),
                    transform: Transform::Identity,
                    bounds: (-5.0, 5.0),
                    prior: None,
                    owner: Owner::Latent(g),
                    label: format!("group {} mean", g + 1),
                });
                Slot::Free(free.len() - 1)
            } else {
                Slot::Fixed(0.0)
            };
            let variance = if variance_free {
                free.push(FreeParameter {
                    kind: FreeKind::LatentVariance(g),
                    transform: Transform::Identity,
                    bounds: (1e-3, 25.0),
                    prior: None,
                    owner: Owner::Latent(g),
                    label: format!("group {} variance", g + 1),
                });
                Slot::Free(free.len() - 1)
            } else {
                Slot::Fixed(1.0)
            };
            latent.push((mean, variance));
        }
        let n_items = requests.len();
        let mut item_free = vec![Vec::new(); n_items];
        for (index, parameter) in free.iter().enumerate() {
            if let Owner::Item(j) = parameter.owner {
                item_free[j].push(index);
            }
        }
        let shared: Vec<usize> = free
            .iter()
            .enumerate()
            .filter(|(_, p)| p.owner == Owner::Shared)
            .map(|(i, _)| i)
            .collect();
        for &index in &shared {
            let mut who = users[index].clone();
            who.sort_unstable();
            who.dedup();
            for j in who {
                item_free[j].push(index);
            }
        }
        ParameterLayout {
            items: requests.iter().map(|r| r.spec.clone()).collect(),
            slots,
            latent,
            free,
            item_free,
            shared,
        }
    }

    /// Number of free parameters.
    pub fn n_free(&self) -> usize {
        self.free.len()
    }

    /// Item j's parameter vector in group g (reported scale).
    pub fn item_parameters(&self, g: usize, j: usize, psi: &[f64]) -> Vec<f64> {
        self.slots[g][j]
            .iter()
            .map(|slot| match *slot {
                Slot::Free(i) => self.free[i].transform.value(psi[i]),
                Slot::Fixed(v) => v,
            })
            .collect()
    }

    /// Group g's latent mean and variance.
    pub fn latent(&self, g: usize, psi: &[f64]) -> (f64, f64) {
        let value = |slot: Slot| match slot {
            Slot::Free(i) => psi[i],
            Slot::Fixed(v) => v,
        };
        (value(self.latent[g].0), value(self.latent[g].1))
    }

    /// Whether any latent mean or variance is estimated.
    pub fn latent_free(&self) -> bool {
        self.latent
            .iter()
            .any(|(m, v)| matches!(m, Slot::Free(_)) || matches!(v, Slot::Free(_)))
    }

    /// Keeps ψ inside the bounds.
    pub fn clamp(&self, psi: &mut [f64]) {
        for (value, parameter) in psi.iter_mut().zip(&self.free) {
            *value = value.clamp(parameter.bounds.0, parameter.bounds.1);
        }
    }

    /// The largest change between two parameter vectors, measured on the reported scale (so
    /// asymptotes are compared as probabilities, as mirt does).
    pub fn max_change(&self, a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .zip(&self.free)
            .fold(0.0f64, |m, ((x, y), p)| {
                m.max((p.transform.value(*x) - p.transform.value(*y)).abs())
            })
    }

    /// Start values: each item's own starts (averaged over the items sharing a parameter),
    /// latent means 0 and variances 1.
    pub fn start_values(&self, proportions: &[Vec<f64>]) -> Vec<f64> {
        let mut sums = vec![0.0; self.n_free()];
        let mut counts = vec![0usize; self.n_free()];
        for (j, item) in self.items.iter().enumerate() {
            let start = item.model.start_values(&proportions[j]);
            for group in &self.slots {
                for (m, slot) in group[j].iter().enumerate() {
                    if let Slot::Free(i) = *slot {
                        sums[i] += start[m];
                        counts[i] += 1;
                    }
                }
            }
        }
        let mut psi: Vec<f64> = sums
            .iter()
            .zip(&counts)
            .zip(&self.free)
            .map(|((s, &n), p)| match p.kind {
                FreeKind::LatentMean(_) => 0.0,
                FreeKind::LatentVariance(_) => 1.0,
                FreeKind::Item(_) => {
                    let value = if n > 0 { s / n as f64 } else { 0.0 };
                    p.transform.estimate_of(value)
                }
            })
            .collect();
        self.clamp(&mut psi);
        psi
    }

    /// Every group's item parameter vectors and latent moments at ψ (reported scale), to start
    /// another layout of the same items and groups from ([`ParameterLayout::psi_from`]).
    pub fn values(&self, psi: &[f64]) -> LayoutValues {
        LayoutValues {
            items: (0..self.slots.len())
                .map(|g| {
                    (0..self.items.len())
                        .map(|j| self.item_parameters(g, j, psi))
                        .collect()
                })
                .collect(),
            latent: (0..self.latent.len())
                .map(|g| self.latent(g, psi))
                .collect(),
        }
    }

    /// ψ from given values: each free parameter the average of the values of the slots it
    /// fills (so parameters made equal across groups start at the groups' mean). `None` when
    /// the values do not have this layout's shape.
    pub fn psi_from(&self, values: &LayoutValues) -> Option<Vec<f64>> {
        if values.items.len() != self.slots.len() || values.latent.len() != self.latent.len() {
            return None;
        }
        let mut sums = vec![0.0; self.n_free()];
        let mut counts = vec![0usize; self.n_free()];
        for (g, group) in self.slots.iter().enumerate() {
            if values.items[g].len() != group.len() {
                return None;
            }
            for (j, item_slots) in group.iter().enumerate() {
                if values.items[g][j].len() != item_slots.len() {
                    return None;
                }
                for (m, slot) in item_slots.iter().enumerate() {
                    if let Slot::Free(i) = *slot {
                        sums[i] += values.items[g][j][m];
                        counts[i] += 1;
                    }
                }
            }
        }
        for (g, (mean, variance)) in self.latent.iter().enumerate() {
            let (m, v) = values.latent[g];
            if let Slot::Free(i) = *mean {
                sums[i] += m;
                counts[i] += 1;
            }
            if let Slot::Free(i) = *variance {
                sums[i] += v;
                counts[i] += 1;
            }
        }
        let mut psi: Vec<f64> = sums
            .iter()
            .zip(&counts)
            .zip(&self.free)
            .map(|((s, &n), p)| {
                let value = if n > 0 { s / n as f64 } else { 0.0 };
                match p.kind {
                    FreeKind::Item(_) => p.transform.estimate_of(value),
                    _ => value,
                }
            })
            .collect();
        self.clamp(&mut psi);
        Some(psi)
    }

    /// Whether every item is divide-by-total with parameters linear in its log-odds
    /// (canonical), so the analytic observed information applies.
    pub fn all_canonical(&self) -> bool {
        self.items.iter().enumerate().all(|(j, item)| {
            let params = vec![0.5; item.model.parameters(item.n_categories).len()];
            let _ = j;
            item.model
                .linear_form(&params, item.n_categories)
                .is_some_and(|f| f.canonical)
        })
    }
}
