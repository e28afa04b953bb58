//! Per-field codecs used by the `record!` macro: one module per jute field kind, so a record's
//! definition reads like its `zookeeper.jute` class and cannot drift from its encoder.

use crate::data::{read_acls, write_acls, Acl, Stat};
use crate::jute::{DecodeError, JuteWrite, Reader, Record};

/// Declares a jute record: the struct, its `Record` impl (fields in declaration order, as jute
/// serializes them), and under test a proptest strategy.
macro_rules! record {
    (
        $(#[$m:meta])*
        pub struct $name:ident {
            $( $(#[$fm:meta])* pub $f:ident : $t:ty => $kind:ident, )*
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        pub struct $name {
            $( $(#[$fm])* pub $f: $t, )*
        }

        impl $crate::jute::Record for $name {
            fn encode(&self, out: &mut Vec<u8>) {
                $( $crate::field::$kind::put(out, &self.$f); )*
            }

            fn decode(r: &mut $crate::jute::Reader<'_>) -> Result<Self, $crate::jute::DecodeError> {
                // Struct-literal fields are evaluated in source order, which is jute's order.
                Ok($name {
                    $( $f: $crate::field::$kind::get(r, concat!(stringify!($name), ".", stringify!($f)))?, )*
                })
            }
        }

        #[cfg(test)]
        impl $name {
            /// Any value of the record, for round-trip properties.
            #[allow(dead_code)]
            pub(crate) fn arb() -> proptest::strategy::BoxedStrategy<Self> {
                use proptest::strategy::Strategy;
                ( $( $crate::field::$kind::arb(), )* )
                    .prop_map(|( $( $f, )* )| $name { $( $f, )* })
                    .boxed()
            }
        }
    };
}
pub(crate) use record;

/// Strategies for the field kinds, shared by every record's `arb()`.
#[cfg(test)]
pub(crate) mod strat {
    use proptest::prelude::*;

    /// Short strings including non-ASCII, so UTF-8 lengths differ from char counts.
    pub fn string() -> BoxedStrategy<String> {
        "\\PC{0,12}".boxed()
    }

    /// Null, empty and non-empty buffers.
    pub fn buffer() -> BoxedStrategy<Option<Vec<u8>>> {
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)).boxed()
    }

    /// A small vector of anything.
    pub fn vec<T: std::fmt::Debug + 'static>(s: BoxedStrategy<T>) -> BoxedStrategy<Vec<T>> {
        proptest::collection::vec(s, 0..5).boxed()
    }
}

macro_rules! field_kind {
    ($(#[$m:meta])* $kind:ident : $t:ty, put($out:ident, $v:ident) $put:block, get($r:ident, $field:ident) $get:block, arb $arb:expr) => {
        $(#[$m])*
        pub(crate) mod $kind {
            #[allow(unused_imports)]
            use super::*;

            // One signature for every kind keeps the record macro uniform.
            #[allow(clippy::ptr_arg)]
            pub(crate) fn put($out: &mut Vec<u8>, $v: &$t) $put

            #[allow(unused_variables)]
            pub(crate) fn get($r: &mut Reader<'_>, $field: &'static str) -> Result<$t, DecodeError> $get

            #[cfg(test)]
            pub(crate) fn arb() -> proptest::strategy::BoxedStrategy<$t> {
                #[allow(unused_imports)]
                use proptest::prelude::*;
                $arb
            }
        }
    };
}

field_kind!(
    /// jute `int`.
    int: i32, put(out, v) { out.write_i32(*v) }, get(r, f) { r.read_i32() },
    arb any::<i32>().boxed()
);
field_kind!(
    /// jute `long`.
    long: i64, put(out, v) { out.write_i64(*v) }, get(r, f) { r.read_i64() },
    arb any::<i64>().boxed()
);
field_kind!(
    /// jute `boolean`.
    boolean: bool, put(out, v) { out.write_bool(*v) }, get(r, f) { r.read_bool() },
    arb any::<bool>().boxed()
);
field_kind!(
    /// A `ustring` that must not be null (paths, schemes): null is a decode error.
    ustring: String, put(out, v) { out.write_str(v) }, get(r, f) { r.read_string(f) },
    arb super::strat::string()
);
field_kind!(
    /// A `ustring` where null is meaningful (reconfig's server lists).
    opt_ustring: Option<String>,
    put(out, v) { out.write_buffer(v.as_deref().map(str::as_bytes)) },
    get(r, f) { Ok(r.read_ustring()?.map(str::to_owned)) },
    arb proptest::option::of(super::strat::string()).boxed()
);
field_kind!(
    /// A `buffer` where null and empty are distinct (node data, SASL tokens): ZooKeeper hands
    /// back null data as -1, so collapsing them would change what clients read.
    buffer: Option<Vec<u8>>,
    put(out, v) { out.write_buffer(v.as_deref()) },
    get(r, f) { Ok(r.read_buffer()?.map(<[u8]>::to_vec)) },
    arb super::strat::buffer()
);
field_kind!(
    /// A `buffer` that every client sends non-null (session passwords, auth credentials); a
    /// null reads as empty.
    bytes: Vec<u8>, put(out, v) { out.write_bytes(v) }, get(r, f) { r.read_bytes() },
    arb proptest::collection::vec(any::<u8>(), 0..20).boxed()
);
field_kind!(
    /// `vector<ustring>`, elements non-null.
    strings: Vec<String>, put(out, v) { out.write_string_vec(v) }, get(r, f) { r.read_string_vec(f) },
    arb super::strat::vec(super::strat::string())
);
field_kind!(
    /// `vector<ACL>`.
    acls: Vec<Acl>, put(out, v) { write_acls(out, v) }, get(r, f) { read_acls(r) },
    arb super::strat::vec(crate::arb::acl())
);
field_kind!(
    /// A nested `Stat`.
    stat: Stat, put(out, v) { v.encode(out) }, get(r, f) { Stat::decode(r) },
    arb crate::arb::stat()
);
field_kind!(
    /// `vector<ClientInfo>` (whoAmI).
    client_infos: Vec<crate::whoami::ClientInfo>,
    put(out, v) { out.write_vec(v, |w, c| c.encode(w)) },
    get(r, f) { r.read_vec(8, crate::whoami::ClientInfo::decode) },
    arb super::strat::vec(crate::whoami::ClientInfo::arb())
);
