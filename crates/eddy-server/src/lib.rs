//! eddy-server
