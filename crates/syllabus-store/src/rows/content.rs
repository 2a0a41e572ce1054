//! Rows of `skill_trees`' nodes: as read (assembled into a tree of records) and as inserted (a
//! tree flattened parents first).

use diesel::prelude::*;
use syllabus_domain::content::SkillNode;
use uuid::Uuid;

use crate::records::SkillNodeRecord;
use crate::schema::skill_nodes;

/// A skill node as read: id, parent, depth, path, title, description.
pub(crate) type NodeRow = (Uuid, Option<Uuid>, i16, String, String, Option<String>);

/// The records of the children of `parent` (the roots for `None`), each with its own children.
pub(crate) fn node_records(nodes: &[NodeRow], parent: Option<Uuid>) -> Vec<SkillNodeRecord> {
    nodes
        .iter()
        .filter(|n| n.1 == parent)
        .map(|(id, _, depth, path, title, description)| SkillNodeRecord {
            id: *id,
            title: title.clone(),
            description: description.clone(),
            depth: u32::try_from(*depth).unwrap_or(0),
            path: path.clone(),
            children: node_records(nodes, Some(*id)),
        })
        .collect()
}

/// A materialized path (`1.2.3`) as numbers, to sort nodes in tree order.
pub(crate) fn path_key(path: &str) -> Vec<u32> {
    path.split('.').filter_map(|p| p.parse().ok()).collect()
}

/// A skill node to insert.
#[derive(Insertable)]
#[diesel(table_name = skill_nodes)]
pub(crate) struct NodeInsert<'a> {
    pub(crate) id: Uuid,
    pub(crate) tree_id: Uuid,
    pub(crate) parent_id: Option<Uuid>,
    pub(crate) user_id: &'a str,
    pub(crate) depth: i16,
    pub(crate) path: &'a str,
    pub(crate) title: &'a str,
    pub(crate) description: Option<&'a str>,
}

/// Appends the rows of `nodes` and their descendants to `out`, parents before children.
pub(crate) fn node_inserts<'a>(
    nodes: &'a [SkillNode],
    parent: Option<Uuid>,
    tree: Uuid,
    user: &'a str,
    out: &mut Vec<NodeInsert<'a>>,
) {
    for n in nodes {
        let id = Uuid::now_v7();
        out.push(NodeInsert {
            id,
            tree_id: tree,
            parent_id: parent,
            user_id: user,
            depth: i16::try_from(n.depth).unwrap_or(i16::MAX),
            path: &n.path,
            title: &n.title,
            description: n.description.as_deref(),
        });
        node_inserts(&n.children, Some(id), tree, user, out);
    }
}
