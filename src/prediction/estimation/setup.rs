//! From a response matrix and settings to a calibration problem: which items can be calibrated
//! (and why the others cannot), each item's type and categories, anchored items, priors, the
//! parameter layout and the collapsed patterns.

use std::collections::BTreeSet;

use super::layout::{ItemRequest, ItemSpec, ParameterLayout};
use super::problem::{Group, Problem};
use super::result::{ExcludedItem, FitWarning};
use super::settings::{FitSettings, Guessing};
use crate::prediction::PredictionError;
use crate::prediction::items::ParameterKind;
use crate::prediction::model::ItemParameters;
use crate::prediction::quadrature::Quadrature;
use crate::prediction::responses::{Patterns, ResponseMatrix};

/// A problem ready for EM, with what was decided on the way.
pub(crate) struct Setup {
    pub problem: Problem,
    /// Per calibrated item, its categories' original values.
    pub categories: Vec<Vec<String>>,
    /// Items left out, with the reason.
    pub excluded: Vec<ExcludedItem>,
    pub warnings: Vec<FitWarning>,
    /// Persons with at least one response to a calibrated item.
    pub n_persons: usize,
    pub n_persons_without_responses: usize,
    /// Observed category proportions per calibrated item (start values).
    pub proportions: Vec<Vec<f64>>,
    /// Per calibrated item: anchored (parameters fixed from the settings).
    pub anchored: Vec<bool>,
    /// Per group, the persons of the response matrix in it (in order): one group of every
    /// person for a single-group calibration.
    pub group_persons: Vec<Vec<usize>>,
}

impl Setup {
    /// Start values of EM.
    pub fn start_values(&self) -> Vec<f64> {
        self.problem.layout.start_values(&self.proportions)
    }
}

fn describe_constant(labels: &[String], code: usize, count: usize) -> String {
    let label = &labels[code];
    if labels.len() == 2 && labels[0] == "0" && labels[1] == "1" {
        if code == 1 {
            format!("all {count} responses are correct (1)")
        } else {
            format!("all {count} responses are wrong (0)")
        }
    } else {
        format!("all {count} responses are {}", crate::text::quoted(label))
    }
}

/// A calibration's request per item: its spec, the whole vector when anchored, single fixed
/// parameters.
type Request = (ItemSpec, Option<Vec<f64>>, Vec<(ParameterKind, f64)>);

/// The items screened and recoded, before any parameter layout: what single- and multiple-group
/// problems share.
struct PreparedItems<'a> {
    /// The response matrix of the calibrated items (recoded where categories were dropped).
    matrix: std::borrow::Cow<'a, ResponseMatrix>,
    /// Categories per calibrated item.
    categories: Vec<usize>,
    /// Original category values per calibrated item.
    category_values: Vec<Vec<String>>,
    excluded: Vec<ExcludedItem>,
    warnings: Vec<FitWarning>,
    anchored: Vec<bool>,
    requests: Vec<Request>,
    all_fixed: bool,
    any_anchor: bool,
}

/// Screens the items: constant or unanswered items are left out, unchosen categories dropped,
/// anchored items mapped onto their fixed categories, item types checked.
fn prepare_items<'a>(
    responses: &'a ResponseMatrix,
    settings: &FitSettings,
) -> Result<PreparedItems<'a>, PredictionError> {
    settings.validate()?;
    let mut warnings = Vec::new();
    let mut excluded = Vec::new();
    for name in settings.item_models.keys() {
        if !responses.item_names().contains(name) {
            return Err(PredictionError::InvalidSetting(format!(
                "an item type is set for {}, which is not an item of the data",
                crate::text::quoted(name)
            )));
        }
    }
    // Persons first: with one person every item is constant, and "too few items" would mislead.
    let all_anchored = responses
        .item_names()
        .iter()
        .all(|name| settings.fixed_items.iter().any(|f| &f.item == name));
    let answering = (0..responses.n_persons())
        .filter(|&p| responses.responses_of(p).next().is_some())
        .count();
    if answering < 2 && !all_anchored {
        return Err(PredictionError::TooFewPersons(answering));
    }
    let counts = responses.category_counts();
    // Numeric category values used anywhere in the test, to tell an item's unused category.
    let mut all_values: BTreeSet<i64> = BTreeSet::new();
    for j in 0..responses.n_items() {
        for label in responses.categories(j) {
            if let Ok(v) = label.parse::<i64>() {
                all_values.insert(v);
            }
        }
    }
    // Copied only when an item is recoded or left out.
    let mut matrix = std::borrow::Cow::Borrowed(responses);
    let mut included = Vec::new();
    let mut anchored = Vec::new();
    let mut fixed_values: Vec<Option<ItemParameters>> = Vec::new();
    for j in 0..responses.n_items() {
        let name = &responses.item_names()[j];
        let labels = responses.categories(j);
        let anchor = settings.fixed_items.iter().find(|f| &f.item == name);
        let answered: usize = counts[j].iter().sum();
        if let Some(anchor) = anchor {
            // Map the data's categories onto the anchor's.
            let mut mapping = Vec::with_capacity(labels.len());
            for label in labels {
                match anchor.categories.iter().position(|c| c == label) {
                    Some(code) => mapping.push(Some(code as u8)),
                    None => {
                        return Err(PredictionError::Data(format!(
                            "item {}: category {} is not among the fixed item's categories {}",
                            crate::text::quoted(name),
                            crate::text::quoted(label),
                            anchor.categories.join(", ")
                        )));
                    }
                }
            }
            matrix =
                std::borrow::Cow::Owned(matrix.recode_item(j, &mapping, anchor.categories.clone()));
            included.push(j);
            anchored.push(true);
            fixed_values.push(Some(anchor.clone()));
            continue;
        }
        let used: Vec<usize> = (0..labels.len()).filter(|&c| counts[j][c] > 0).collect();
        if used.len() < 2 {
            let reason = if answered == 0 {
                "no responses".to_string()
            } else {
                describe_constant(labels, used[0], answered)
            };
            warnings.push(FitWarning::ItemExcluded {
                item: name.clone(),
                reason: reason.clone(),
            });
            excluded.push(ExcludedItem {
                item: name.clone(),
                reason,
            });
            continue;
        }
        // Categories nobody chose are dropped (mirt does the same).
        if used.len() < labels.len() {
            let mut mapping = vec![None; labels.len()];
            for (new, &old) in used.iter().enumerate() {
                mapping[old] = Some(new as u8);
            }
            for c in (0..labels.len()).filter(|c| counts[j][*c] == 0) {
                warnings.push(FitWarning::CategoryNotChosen {
                    item: name.clone(),
                    category: labels[c].clone(),
                });
            }
            let kept: Vec<String> = used.iter().map(|&c| labels[c].clone()).collect();
            matrix = std::borrow::Cow::Owned(matrix.recode_item(j, &mapping, kept));
        } else {
            // A numeric scale with a gap that other items use: say so, the category is dropped.
            let numbers: Option<Vec<i64>> = labels.iter().map(|l| l.parse::<i64>().ok()).collect();
            if let Some(numbers) = numbers
                && let (Some(&lo), Some(&hi)) = (numbers.iter().min(), numbers.iter().max())
            {
                for v in all_values.range(lo..=hi) {
                    if !numbers.contains(v) {
                        warnings.push(FitWarning::CategoryNotChosen {
                            item: name.clone(),
                            category: v.to_string(),
                        });
                    }
                }
            }
        }
        let item_type = settings.item_type(name);
        item_type
            .model()
            .check_categories(matrix.n_categories(j))
            .map_err(|reason| {
                let values: Vec<String> = matrix
                    .categories(j)
                    .iter()
                    .take(6)
                    .map(|v| crate::text::quoted(v))
                    .collect();
                let more = if matrix.n_categories(j) > 6 {
                    ", …"
                } else {
                    ""
                };
                PredictionError::ItemType {
                    item: name.clone(),
                    reason: format!("{reason} (its values: {}{more})", values.join(", ")),
                }
            })?;
        included.push(j);
        anchored.push(false);
        fixed_values.push(None);
    }
    let all_fixed = anchored.iter().all(|&a| a);
    let free_items = anchored.iter().filter(|a| !**a).count();
    if included.is_empty() || (!all_fixed && included.len() < 2) || (free_items == 0 && !all_fixed)
    {
        return Err(PredictionError::TooFewItems {
            usable: included.len(),
            excluded: excluded.len(),
        });
    }
    let matrix = if included.len() == responses.n_items() {
        matrix
    } else {
        std::borrow::Cow::Owned(matrix.select_items(&included))
    };
    let categories: Vec<usize> = (0..matrix.n_items())
        .map(|j| matrix.n_categories(j))
        .collect();
    let category_values: Vec<Vec<String>> = (0..matrix.n_items())
        .map(|j| matrix.categories(j).to_vec())
        .collect();
    let any_anchor = anchored.iter().any(|&a| a);
    let requests: Vec<Request> = (0..matrix.n_items())
        .map(|j| {
            let name = matrix.item_names()[j].clone();
            let (item_type, fixed) = match &fixed_values[j] {
                Some(anchor) => (anchor.model, Some(anchor.parameters.clone())),
                None => (settings.item_type(&name), None),
            };
            let mut fixed_kinds = Vec::new();
            if let Guessing::Fixed { value } = settings.guessing {
                fixed_kinds.push((ParameterKind::LowerAsymptote, value));
            }
            // Calibrated against anchors, a Rasch-family item keeps its slope of 1: the latent
            // variance is what is estimated.
            if any_anchor && item_type.is_rasch_family() {
                fixed_kinds.push((ParameterKind::Slope, settings.scaling));
            }
            (
                ItemSpec {
                    name,
                    item_type,
                    model: item_type.model(),
                    n_categories: categories[j],
                },
                fixed,
                fixed_kinds,
            )
        })
        .collect();
    Ok(PreparedItems {
        matrix,
        categories,
        category_values,
        excluded,
        warnings,
        anchored,
        requests,
        all_fixed,
        any_anchor,
    })
}

/// Per item, a prior for each parameter kind from the settings.
type PriorFn = Box<dyn Fn(ParameterKind) -> Option<crate::prediction::items::Prior>>;

fn priors(requests: &[Request], settings: &FitSettings) -> Vec<PriorFn> {
    requests
        .iter()
        .map(|(spec, _, _)| {
            let name = spec.name.clone();
            let settings = settings.clone();
            Box::new(move |kind| settings.prior_for(kind, &name)) as PriorFn
        })
        .collect()
}

/// Observed category proportions per item, pooled over groups (start values).
fn proportions(groups: &[Group], categories: &[usize]) -> Vec<Vec<f64>> {
    categories
        .iter()
        .enumerate()
        .map(|(j, &k)| {
            let mut counts = vec![0.0; k];
            for group in groups {
                for (c, v) in counts.iter_mut().zip(&group.category_counts[j]) {
                    *c += v;
                }
            }
            let total: f64 = counts.iter().sum();
            counts
                .iter()
                .map(|c| if total > 0.0 { c / total } else { 0.0 })
                .collect()
        })
        .collect()
}

/// Builds the calibration problem of one group.
pub(crate) fn problem(
    responses: &ResponseMatrix,
    settings: &FitSettings,
) -> Result<Setup, PredictionError> {
    let PreparedItems {
        matrix,
        categories,
        category_values,
        excluded,
        mut warnings,
        anchored,
        requests,
        all_fixed,
        any_anchor,
    } = prepare_items(responses, settings)?;
    let patterns = Patterns::collapse(&matrix);
    let n_persons = patterns.counts.iter().sum::<f64>() as usize;
    let n_persons_without_responses = matrix.n_persons() - n_persons;
    if n_persons < 2 && !all_fixed {
        return Err(PredictionError::TooFewPersons(n_persons));
    }
    if n_persons_without_responses > 0 {
        warnings.push(FitWarning::PersonsWithoutResponses(
            n_persons_without_responses,
        ));
    }
    let no_groups = |_: usize| false;
    let priors = priors(&requests, settings);
    let item_requests: Vec<ItemRequest<'_>> = requests
        .iter()
        .zip(&priors)
        .map(|((spec, fixed, fixed_kinds), prior)| ItemRequest {
            spec: spec.clone(),
            fixed: fixed.clone(),
            fixed_kinds,
            prior: prior.as_ref(),
            per_group: &no_groups,
        })
        .collect();
    let latent_free = any_anchor && !all_fixed;
    let layout = ParameterLayout::new(&item_requests, 1, &[(latent_free, latent_free)]);
    let groups = vec![Group::new(patterns, &categories)];
    let proportions = proportions(&groups, &categories);
    Ok(Setup {
        problem: Problem {
            layout,
            groups,
            quadrature: Quadrature::normal(settings.quadrature_points, settings.theta_limit),
        },
        categories: category_values,
        excluded,
        warnings,
        n_persons,
        n_persons_without_responses,
        proportions,
        anchored,
        group_persons: vec![(0..responses.n_persons()).collect()],
    })
}

/// How the groups of a multiple-group problem are told apart and what differs between them.
pub(crate) struct GroupDesign<'a> {
    /// Group names, the reference first (for messages).
    pub names: &'a [String],
    /// Per person of the response matrix: their group, or `None` (left out).
    pub membership: &'a [Option<usize>],
    /// Whether parameter `m` (of kind `kind`) of the item named `item` has its own value in each
    /// group. Parameters that several items share follow the items: they differ between groups
    /// only when they differ for every item using them; the Rasch family's common slope (the
    /// reference group's standard deviation) never differs.
    pub differs: &'a dyn Fn(&str, usize, ParameterKind) -> bool,
    /// Per group: whether its latent mean and variance are estimated.
    pub latent_free: Vec<(bool, bool)>,
}

/// Builds a multiple-group problem: the same items in every group, with the parameters the
/// design says differ estimated per group and the others shared.
pub(crate) fn group_problem(
    responses: &ResponseMatrix,
    settings: &FitSettings,
    design: &GroupDesign<'_>,
) -> Result<Setup, PredictionError> {
    let n_groups = design.names.len();
    let mut group_persons: Vec<Vec<usize>> = vec![Vec::new(); n_groups];
    for (person, group) in design.membership.iter().enumerate() {
        if let Some(g) = *group
            && g < n_groups
        {
            group_persons[g].push(person);
        }
    }
    let in_groups: Vec<usize> = (0..responses.n_persons())
        .filter(|&p| {
            design
                .membership
                .get(p)
                .copied()
                .flatten()
                .is_some_and(|g| g < n_groups)
        })
        .collect();
    let selected = responses.select_persons(&in_groups);
    let PreparedItems {
        matrix,
        categories,
        category_values,
        excluded,
        mut warnings,
        anchored,
        requests,
        all_fixed,
        any_anchor,
    } = prepare_items(&selected, settings)?;
    // Positions within `selected` of each group's persons.
    let mut position = vec![usize::MAX; responses.n_persons()];
    for (at, &p) in in_groups.iter().enumerate() {
        position[p] = at;
    }
    let mut groups = Vec::with_capacity(n_groups);
    let mut n_persons = 0;
    let mut n_persons_without_responses = 0;
    for (g, persons) in group_persons.iter().enumerate() {
        let rows: Vec<usize> = persons.iter().map(|&p| position[p]).collect();
        let patterns = Patterns::collapse(&matrix.select_persons(&rows));
        let answering = patterns.counts.iter().sum::<f64>() as usize;
        if answering < 2 && !all_fixed {
            return Err(PredictionError::Data(format!(
                "group {} has {answering} persons with responses; each group needs at least 2",
                crate::text::quoted(&design.names[g])
            )));
        }
        n_persons += answering;
        n_persons_without_responses += persons.len() - answering;
        groups.push(Group::new(patterns, &categories));
    }
    if n_persons_without_responses > 0 {
        warnings.push(FitWarning::PersonsWithoutResponses(
            n_persons_without_responses,
        ));
    }
    // Which parameters differ between groups: first per item, then shared parameters only when
    // every item using them differs.
    let specs: Vec<Vec<crate::prediction::items::ParameterSpec>> = requests
        .iter()
        .map(|(spec, _, _)| spec.model.parameters(spec.n_categories))
        .collect();
    let mut differs: Vec<Vec<bool>> = requests
        .iter()
        .zip(&specs)
        .map(|((spec, _, _), parameters)| {
            parameters
                .iter()
                .enumerate()
                .map(|(m, p)| {
                    let rasch_scale =
                        matches!(p.sharing, crate::prediction::items::Sharing::Shared(_))
                            && p.kind == ParameterKind::Slope
                            && spec.item_type.is_rasch_family();
                    n_groups > 1 && !rasch_scale && (design.differs)(&spec.name, m, p.kind)
                })
                .collect()
        })
        .collect();
    let mut shared_differs: std::collections::HashMap<(&'static str, usize), bool> =
        std::collections::HashMap::new();
    for (j, parameters) in specs.iter().enumerate() {
        for (m, p) in parameters.iter().enumerate() {
            if let crate::prediction::items::Sharing::Shared(key) = p.sharing {
                let entry = shared_differs.entry((key, m)).or_insert(true);
                *entry &= differs[j][m];
            }
        }
    }
    for (j, parameters) in specs.iter().enumerate() {
        for (m, p) in parameters.iter().enumerate() {
            if let crate::prediction::items::Sharing::Shared(key) = p.sharing {
                differs[j][m] = shared_differs.get(&(key, m)).copied().unwrap_or(false);
            }
        }
    }
    // An item with its own parameters in a group must vary in that group.
    for (j, (spec, fixed, _)) in requests.iter().enumerate() {
        if fixed.is_some() || !differs[j].iter().any(|&d| d) {
            continue;
        }
        for (g, group) in groups.iter().enumerate() {
            let used = group.category_counts[j]
                .iter()
                .filter(|&&c| c > 0.0)
                .count();
            if used < 2 {
                return Err(PredictionError::Data(format!(
                    "item {}: in group {} {}; its parameters cannot differ between groups (make it equal across groups)",
                    crate::text::quoted(&spec.name),
                    crate::text::quoted(&design.names[g]),
                    if used == 0 {
                        "nobody answered it".to_string()
                    } else {
                        "every response is the same".to_string()
                    }
                )));
            }
        }
    }
    let priors = priors(&requests, settings);
    let per_group: Vec<Box<dyn Fn(usize) -> bool>> = differs
        .iter()
        .map(|d| {
            let d = d.clone();
            Box::new(move |m: usize| d.get(m).copied().unwrap_or(false))
                as Box<dyn Fn(usize) -> bool>
        })
        .collect();
    let item_requests: Vec<ItemRequest<'_>> = requests
        .iter()
        .zip(&priors)
        .zip(&per_group)
        .map(
            |(((spec, fixed, fixed_kinds), prior), per_group)| ItemRequest {
                spec: spec.clone(),
                fixed: fixed.clone(),
                fixed_kinds,
                prior: prior.as_ref(),
                per_group: per_group.as_ref(),
            },
        )
        .collect();
    // With fixed (anchored) items every group's distribution is estimated on their metric.
    let latent_free: Vec<(bool, bool)> = if any_anchor && !all_fixed {
        vec![(true, true); n_groups]
    } else {
        (0..n_groups)
            .map(|g| design.latent_free.get(g).copied().unwrap_or((false, false)))
            .collect()
    };
    let layout = ParameterLayout::new(&item_requests, n_groups, &latent_free);
    let proportions = proportions(&groups, &categories);
    Ok(Setup {
        problem: Problem {
            layout,
            groups,
            quadrature: Quadrature::normal(settings.quadrature_points, settings.theta_limit),
        },
        categories: category_values,
        excluded,
        warnings,
        n_persons,
        n_persons_without_responses,
        proportions,
        anchored,
        group_persons,
    })
}
