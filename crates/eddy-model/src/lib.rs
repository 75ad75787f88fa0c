//! The eddy model: the nouns every other crate shares, with no I/O and no wire format.
//!
//! * [`names`]: resource names, their validation rules, and ARNs;
//! * [`limits`]: the numeric limits of each resource's definition, shared by the API and the
//!   manifest;
//! * [`event`]: the EventBridge event envelope and how eddy builds it;
//! * [`definitions`]: buses, rules and targets as the control plane stores them;
//! * [`function`]: the runtimes eddy starts and the environment variables it reserves;
//! * [`transform`]: target input shaping (`Input`, `InputPath`, `InputTransformer`).
//!
//! What it is not: the AWS protocol (that lives in `eddy-server`'s protocol layer, which
//! translates to and from these types) and the pattern language (`eddy-pattern`).

pub mod definitions;
pub mod event;
pub mod function;
pub mod limits;
pub mod names;
pub mod transform;

/// The account id eddy uses unless configured otherwise (what moto and most fixtures expect).
pub const DEFAULT_ACCOUNT_ID: &str = "123456789012";

/// The region used when a request does not name one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The bus that always exists in every region.
pub const DEFAULT_BUS: &str = "default";
