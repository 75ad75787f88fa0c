//! eddy-model
