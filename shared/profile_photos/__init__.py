"""profile-photos: the domain code shared by every function (shipped as the SharedLayer)."""
