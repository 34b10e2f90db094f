"""Maps the source folders to unique import names; all metadata lives in pyproject.toml."""
from setuptools import find_packages, setup

# folder -> import name: no bare `app` or `quantize` package lands in site-packages.
FOLDERS = {"moshi_mlx": "moshi_mlx", "quantize": "moshi_quantize", "app": "moshi_app"}

packages, package_dir = [], {}
for folder, name in FOLDERS.items():
    packages.append(name)
    package_dir[name] = folder
    for sub in find_packages(where=folder):
        packages.append(f"{name}.{sub}")
        package_dir[f"{name}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={"moshi_app": ["resources/*"], "moshi_mlx": ["data/*"]},
    include_package_data=True,
)
