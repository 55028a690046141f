//! JSON Schema's keywords as one enum. The schema walkers (the CRDs'
//! structural rewrite, the default bounds, the CEL rules, the conformance
//! tables, `seqops explain`) read a schema by keyword, so a keyword
//! misspelt is a compile error, as a spec field misspelt is.

use serde_json::{Map, Value};

/// A keyword of JSON Schema (and of Kubernetes' structural schemas).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyword {
    Properties,
    Items,
    AdditionalProperties,
    Type,
    Ref,
    Defs,
    AnyOf,
    Enum,
    Const,
    Format,
    Required,
    Description,
    Default,
    Examples,
    /// `x-kubernetes-validations`: the CEL rules.
    KubernetesValidations,
}

impl Keyword {
    pub const fn name(self) -> &'static str {
        match self {
            Keyword::Properties => "properties",
            Keyword::Items => "items",
            Keyword::AdditionalProperties => "additionalProperties",
            Keyword::Type => "type",
            Keyword::Ref => "$ref",
            Keyword::Defs => "$defs",
            Keyword::AnyOf => "anyOf",
            Keyword::Enum => "enum",
            Keyword::Const => "const",
            Keyword::Format => "format",
            Keyword::Required => "required",
            Keyword::Description => "description",
            Keyword::Default => "default",
            Keyword::Examples => "examples",
            Keyword::KubernetesValidations => "x-kubernetes-validations",
        }
    }
}

/// A schema (or one of its objects) read by keyword.
pub trait Keywords {
    fn keyword(&self, keyword: Keyword) -> Option<&Value>;
    fn keyword_mut(&mut self, keyword: Keyword) -> Option<&mut Value>;
}

impl Keywords for Value {
    fn keyword(&self, keyword: Keyword) -> Option<&Value> {
        self.as_object()?.keyword(keyword)
    }

    fn keyword_mut(&mut self, keyword: Keyword) -> Option<&mut Value> {
        self.as_object_mut()?.keyword_mut(keyword)
    }
}

impl Keywords for Map<String, Value> {
    fn keyword(&self, keyword: Keyword) -> Option<&Value> {
        self.get(keyword.name())
    }

    fn keyword_mut(&mut self, keyword: Keyword) -> Option<&mut Value> {
        self.get_mut(keyword.name())
    }
}
