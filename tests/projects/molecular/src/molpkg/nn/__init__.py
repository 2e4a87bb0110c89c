from molpkg.nn.scatter import *  # noqa: F401,F403
