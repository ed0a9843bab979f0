//! The DataFusion session: loads sql/ models, orders them by their table references, and hosts native operators as UDFs.
