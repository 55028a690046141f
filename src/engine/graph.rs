//! Ordering changes by their references: what is referred to goes first.

use std::collections::{BTreeMap, BTreeSet};

use crate::manifest::ResourceKey;

/// Groups `nodes` into layers such that every node comes after the nodes it
/// depends on; nodes in one layer are independent. Dependencies outside
/// `nodes` are ignored; a cycle is returned as an error naming its members.
pub fn layers(nodes: &[(ResourceKey, Vec<ResourceKey>)]) -> Result<Vec<Vec<ResourceKey>>, Vec<ResourceKey>> {
    let present: BTreeSet<&ResourceKey> = nodes.iter().map(|(k, _)| k).collect();
    let mut waiting: BTreeMap<&ResourceKey, BTreeSet<&ResourceKey>> = nodes
        .iter()
        .map(|(key, deps)| (key, deps.iter().filter(|d| present.contains(d) && *d != key).collect()))
        .collect();
    let mut result = Vec::new();
    while !waiting.is_empty() {
        let ready: Vec<&ResourceKey> = waiting.iter().filter(|(_, deps)| deps.is_empty()).map(|(k, _)| *k).collect();
        if ready.is_empty() {
            return Err(waiting.keys().map(|k| (*k).clone()).collect());
        }
        for key in &ready {
            waiting.remove(key);
        }
        for deps in waiting.values_mut() {
            for key in &ready {
                deps.remove(key);
            }
        }
        result.push(ready.into_iter().cloned().collect());
    }
    Ok(result)
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
