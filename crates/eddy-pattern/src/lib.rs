//! eddy-pattern
