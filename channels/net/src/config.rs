//! Being written (helper).
