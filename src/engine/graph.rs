//! Ordering changes by their references: what is referred to goes first.

use std::collections::{BTreeMap, BTreeSet};

use crate::manifest::ResourceKey;

/// Groups `nodes` into layers such that every node comes after the nodes it
/// depends on; nodes in one layer are independent. Dependencies outside
/// `nodes` are ignored; a cycle is returned as an error naming its members.
pub fn layers(nodes: &[(ResourceKey, Vec<ResourceKey>)]) -> Result<Vec<Vec<ResourceKey>>, Vec<ResourceKey>> {
    let present: BTreeSet<&ResourceKey> = nodes.iter().map(|(k, _)| k).collect();
    // Kahn's algorithm, layer by layer: linear in nodes and edges, so a
    // plan of 100,000 objects is ordered at once.
    let mut waiting_on: BTreeMap<&ResourceKey, usize> = BTreeMap::new();
    let mut dependents: BTreeMap<&ResourceKey, Vec<&ResourceKey>> = BTreeMap::new();
    for (key, deps) in nodes {
        let deps: BTreeSet<&ResourceKey> = deps.iter().filter(|d| present.contains(d) && *d != key).collect();
        waiting_on.insert(key, deps.len());
        for dep in deps {
            dependents.entry(dep).or_default().push(key);
        }
    }
    let mut ready: Vec<&ResourceKey> = waiting_on.iter().filter(|(_, n)| **n == 0).map(|(k, _)| *k).collect();
    let mut result = Vec::new();
    while !ready.is_empty() {
        let mut next = Vec::new();
        for key in &ready {
            for dependent in dependents.get(key).into_iter().flatten() {
                if let Some(count) = waiting_on.get_mut(dependent) {
                    *count -= 1;
                    if *count == 0 {
                        next.push(*dependent);
                    }
                }
            }
        }
        next.sort();
        result.push(ready.into_iter().cloned().collect());
        ready = next;
    }
    let cycle: Vec<ResourceKey> = waiting_on.into_iter().filter(|(_, n)| *n > 0).map(|(k, _)| k.clone()).collect();
    if cycle.is_empty() {
        Ok(result)
    } else {
        Err(cycle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ResourceKey {
        ResourceKey::new("Thing", name)
    }

    #[test]
    fn what_is_referred_to_comes_first_and_independent_nodes_share_a_layer() {
        let nodes = vec![(key("agent"), vec![key("workspace")]), (key("workspace"), vec![]), (key("other"), vec![])];
        let order = layers(&nodes).unwrap_or_default();
        assert_eq!(order, vec![vec![key("other"), key("workspace")], vec![key("agent")]]);
    }

    #[test]
    fn a_cycle_is_reported_with_its_members() {
        let nodes = vec![(key("a"), vec![key("b")]), (key("b"), vec![key("a")])];
        assert_eq!(layers(&nodes), Err(vec![key("a"), key("b")]));
    }
}
